"""One rank of a stand-alone training under torchrun, for tests/test_distributed.py:
``torchrun --nproc-per-node 2 tests/ddp_final_worker.py OUT_DIR EPOCHS [STOP_AFTER]``."""

import sys

import torch

from natgym import zoo
from natgym.data import load_dataset
from natgym.final import FinalConfig, train_seed

torch.set_num_threads(1)
out, epochs = sys.argv[1], int(sys.argv[2])
stop = int(sys.argv[3]) if len(sys.argv) > 3 else None
config = FinalConfig(
    dataset="synthetic",
    epochs=epochs,
    batch_size=32,
    channels=2,
    layers=2,
    cutout=0,
    drop_path=0.0,
    auxiliary=0.0,
)
train_seed(
    zoo.get("DARTS"), config, load_dataset("synthetic"), 0, out, device="cpu", progress=False, stop_after=stop
)
