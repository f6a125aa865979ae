"""One rank of a supernet training under torchrun, for tests/test_distributed.py:
``torchrun --nproc-per-node 2 tests/ddp_worker.py OUT EPOCHS [STOP_AFTER]``."""

import sys

import torch

from natgym.supernet import SupernetConfig
from natgym.supernet.train import default_config, train_supernet

torch.set_num_threads(1)
out, epochs = sys.argv[1], int(sys.argv[2])
stop = int(sys.argv[3]) if len(sys.argv) > 3 else None
net = SupernetConfig(channels=4, layers=3, steps=4, in_channels=3, num_classes=4).to_dict()
config = default_config("synthetic", epochs=epochs, net=net, batch_size=32, augment=False)


def on_epoch(done: int) -> None:
    if stop is not None and done >= stop:
        raise SystemExit(3)  # as if killed after a checkpoint


train_supernet(config, out, "cpu", progress=False, checkpoint_seconds=0, on_epoch=on_epoch)
