"""The weight-sharing supernet: size, shapes, per-architecture batch norm, batching, training."""

from __future__ import annotations

import pytest
import torch

from natgym import zoo
from natgym.data import load_dataset
from natgym.errors import ConfigError, GenotypeError
from natgym.space import OPS
from natgym.supernet import PRESETS, Supernet, SupernetConfig
from natgym.supernet.fast import infer
from natgym.supernet.train import (
    TrainConfig,
    cache_dir,
    cached_supernet,
    default_config,
    load_supernet,
    train_supernet,
)

TINY = SupernetConfig(channels=4, layers=3, steps=4, in_channels=1, num_classes=10)


def _params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_cifar10_preset_has_the_papers_15m_parameters():
    n = _params(Supernet(PRESETS["cifar10"]))
    assert abs(n - 15.0e6) / 15.0e6 < 0.01, n


def test_every_position_holds_all_13_ops_with_own_weights():
    net = Supernet(TINY)
    cell = net.cells[0]
    assert len(cell.ops) == 2 + 3 + 4 + 5
    assert all(len(position) == 13 for position in cell.ops)
    convs = [m.weight for position in cell.ops for m in position.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len({w.data_ptr() for w in convs}) == len(convs)


@pytest.mark.parametrize("steps", [4, 5])
def test_shapes_for_steps_4_and_5(steps):
    config = SupernetConfig(channels=4, layers=3, steps=steps, in_channels=3, num_classes=7)
    net = Supernet(config)
    assert len(net.cells[0].ops) == sum(range(2, steps + 2))
    genotypes = [zoo.sample(i, steps=steps) for i in range(3)]
    with torch.inference_mode():
        assert net(torch.randn(5, 3, 8, 8), genotypes).shape == (3, 5, 7)
        assert net(torch.randn(3, 5, 3, 8, 8), genotypes).shape == (3, 5, 7)
    with pytest.raises(GenotypeError, match="steps"):
        net(torch.randn(5, 3, 8, 8), [zoo.sample(0, steps=9 - steps)])
    with pytest.raises(ConfigError, match="x"):
        net(torch.randn(2, 5, 3, 8, 8), genotypes)


def test_loose_end_concat_zero_fills():
    """ENAS-style cells concatenate only some nodes; the others contribute zeros."""
    net = Supernet(TINY)
    g = zoo.sample(0)
    cells = [type(g.normal)(g.normal.edges, (5,)), type(g.reduce)(g.reduce.edges, (4, 5))]
    loose = type(g)(*cells)
    with torch.inference_mode():
        a, b = net(torch.randn(8, 1, 8, 8), [g, loose])
    assert not torch.allclose(a, b)


def test_batch_composition_and_order_independence():
    torch.manual_seed(0)
    net = Supernet(TINY).to(memory_format=torch.channels_last)
    x = torch.randn(16, 1, 8, 8)
    gs = [zoo.sample(i) for i in range(6)]
    gs.append(gs[0].with_ops(["null"] * 8, ["null"] * 8))
    gs.append(gs[1].with_ops(gs[1].normal.ops, ["skip_connect"] * 8))  # shares the normal cell
    gs.append(gs[2])  # a duplicate
    with torch.inference_mode():
        together = net(x, gs)
        alone = torch.stack([net(x, [g])[0] for g in gs])
        shuffled = net(x, gs[::-1]).flip(0)
        with_others = net(x, [zoo.sample(99), gs[3], zoo.sample(98)])[1]
    assert torch.allclose(together, alone, atol=1e-5)
    assert torch.allclose(together, shuffled, atol=1e-5)
    assert torch.allclose(together[3], with_others, atol=1e-5)
    assert torch.equal(together[2], together[8])


def _mixed_genotypes(steps: int) -> list:
    gs = [zoo.sample(i, steps=steps) for i in range(6)]
    edges = 2 * steps
    gs.append(gs[0].with_ops(["null"] * edges, ["null"] * edges))
    gs.append(gs[1].with_ops(gs[1].normal.ops, ["skip_connect"] * edges))  # shares the normal cell
    gs.append(gs[2].with_ops(["dil_conv_5x5"] * edges, ["dil_conv_5x5"] * edges))  # taps past 2x2 maps
    g = gs[3]
    gs.append(type(g)(type(g.normal)(g.normal.edges, (steps + 1,)), g.reduce))  # loose-end concat
    gs.append(gs[4])  # a duplicate
    return gs


@pytest.mark.parametrize(
    ("steps", "size", "channels_last", "pool_norm"),
    [(4, 8, True, False), (4, 8, False, False), (5, 9, False, False), (4, 8, True, True)],
)
def test_fast_infer_equals_the_module_forward(steps, size, channels_last, pool_norm):
    """The evaluator's functional NHWC forward computes the same network (up to rounding)."""
    torch.manual_seed(0)
    config = SupernetConfig(
        channels=4, layers=3, steps=steps, in_channels=3, num_classes=7, pool_norm=pool_norm
    )
    net = Supernet(config)
    x = torch.randn(16, 3, size, size)
    if channels_last:
        net, x = net.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    gs = _mixed_genotypes(steps)
    with torch.inference_mode():
        assert torch.allclose(infer(net, x, gs), net(x, gs), atol=1e-4)
        x5 = torch.randn(len(gs), 16, 3, size, size)
        assert torch.allclose(infer(net, x5, gs), net(x5, gs), atol=1e-4)
    with pytest.raises(ConfigError, match="x"):
        infer(net, torch.randn(2, 16, 3, size, size), gs)


def test_fast_infer_is_batch_composition_and_order_independent():
    torch.manual_seed(0)
    net = Supernet(TINY).to(memory_format=torch.channels_last)
    x = torch.randn(16, 1, 8, 8)
    gs = _mixed_genotypes(4)
    with torch.inference_mode():
        together = infer(net, x, gs)
        alone = torch.stack([infer(net, x, [g])[0] for g in gs])
        shuffled = infer(net, x, gs[::-1]).flip(0)
        with_others = infer(net, x, [zoo.sample(99), gs[3], zoo.sample(98)])[1]
    assert torch.allclose(together, alone, atol=1e-5)
    assert torch.allclose(together, shuffled, atol=1e-5)
    assert torch.allclose(together[3], with_others, atol=1e-5)
    assert torch.equal(together[4], together[-1])


def test_fast_infer_follows_weight_updates():
    """Compiled ops read the weights at call time: training in place is seen at once."""
    torch.manual_seed(0)
    net = Supernet(TINY)
    x, gs = torch.randn(8, 1, 8, 8), [zoo.sample(0), zoo.sample(1)]
    with torch.inference_mode():
        before = infer(net, x, gs)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(1.5).add_(0.01)
    with torch.inference_mode():
        after = infer(net, x, gs)
        assert not torch.allclose(before, after)
        assert torch.allclose(after, net(x, gs), atol=1e-4)


def test_per_genotype_batches_train_with_gradients():
    net = Supernet(TINY)
    gs = [zoo.sample(i) for i in range(2)]
    out = net(torch.randn(2, 8, 1, 8, 8), gs)
    out.sum().backward()
    assert net.stem[0].weight.grad is not None and net.stem[0].weight.grad.abs().sum() > 0


def test_all_null_cell_output_is_input_independent():
    net = Supernet(TINY)
    null = zoo.sample(0).with_ops(["null"] * 8, ["null"] * 8)
    with torch.inference_mode():
        a = net(torch.randn(8, 1, 8, 8), [null])
        b = net(torch.randn(8, 1, 8, 8), [null])
    assert torch.allclose(a, b)
    assert torch.allclose(a, a[:, :1].expand_as(a))


def test_config_validation_and_cache_key():
    with pytest.raises(ConfigError, match="channels"):
        SupernetConfig(channels=5)
    with pytest.raises(ConfigError, match="preset"):
        default_config("digits", "huge")
    with pytest.raises(ConfigError, match="lrr"):
        default_config("digits", lrr=0.1)
    a, b = default_config("digits"), default_config("digits")
    assert a.key() == b.key() and a.key() != default_config("digits", epochs=3).key()
    assert a.key() != default_config("digits", seed=1).key()
    assert TrainConfig.from_dict(a.to_dict()) == a
    assert default_config("cifar100").net.num_classes == 100


def _tiny(epochs: int = 4) -> TrainConfig:
    net = SupernetConfig(channels=4, layers=3, steps=4, in_channels=3, num_classes=4)
    return default_config("synthetic", epochs=epochs, net=net.to_dict(), batch_size=32)


def test_resume_after_interrupt_gives_the_same_weights(tmp_path):
    data = load_dataset("synthetic")
    config = _tiny(epochs=4)
    straight = train_supernet(config, tmp_path / "a.pt", "cpu", data=data, progress=False)

    def stop(epoch: int) -> None:
        if epoch == 2:
            raise KeyboardInterrupt

    path = tmp_path / "b.pt"
    with pytest.raises(KeyboardInterrupt):
        train_supernet(config, path, "cpu", data=data, progress=False, checkpoint_seconds=0, on_epoch=stop)
    partial = path.with_name(path.name + ".partial")
    assert partial.is_file() and not path.exists()
    assert torch.load(partial, weights_only=False)["epochs_done"] == 2
    seen = []
    train_supernet(config, path, "cpu", data=data, progress=False, on_epoch=seen.append)
    assert seen == [3, 4]  # resumed at epoch 2, not from scratch
    assert not partial.exists()
    a, meta = load_supernet(straight)
    b, _ = load_supernet(path)
    assert meta["config"] == config and meta["train_images"] == 4 * (120 // 32) * 32
    for (name, wa), wb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.allclose(wa, wb, atol=1e-6), name


def test_cache_trains_once(tmp_path, monkeypatch):
    monkeypatch.setenv("NATGYM_CACHE", str(tmp_path))
    config = _tiny(epochs=1)
    path = cached_supernet(config, "cpu", progress=False)
    assert path.parent == cache_dir() and path.name == config.filename()
    stamp = path.stat().st_mtime_ns
    assert cached_supernet(config, "cpu", progress=False) == path
    assert path.stat().st_mtime_ns == stamp
    with pytest.raises(ConfigError, match="supernet"):
        load_supernet(tmp_path / "missing.pt")


@pytest.mark.slow
def test_killed_cli_run_resumes_from_its_checkpoint(tmp_path):
    """SIGKILL ``natgym train-supernet`` mid-run; running it again resumes, not restarts."""
    import subprocess
    import sys
    import time

    out = tmp_path / "s.pt"
    cmd = [sys.executable, "-m", "agents.cli", "train-supernet", "--dataset", "synthetic", "--epochs", "80"]
    cmd += ["--device", "cpu", "--threads", "1", "--checkpoint-seconds", "0", "--out", str(out)]
    partial = out.with_name(out.name + ".partial")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not partial.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    assert partial.exists() and not out.exists(), "the run finished before it could be killed"
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "resuming supernet training from epoch" in done.stdout + done.stderr
    assert out.is_file() and not partial.exists()


def test_pool_ops_carry_their_norm_only_with_pool_norm():
    from natgym.ops import PoolBN
    from natgym.supernet.model import BlockBatchNorm

    plain = Supernet(TINY)
    normed = Supernet(SupernetConfig(**{**TINY.to_dict(), "pool_norm": True}))
    for net, expect in ((plain, False), (normed, True)):
        for cell in net.cells:
            for position in cell.ops:
                for name, module in zip(OPS, position):
                    if "pool" in name:
                        assert isinstance(module, PoolBN) == expect
                        if expect:
                            assert isinstance(module[1], BlockBatchNorm)
    assert sum(p.numel() for p in plain.parameters()) == sum(p.numel() for p in normed.parameters())
    with pytest.raises(ConfigError, match="pool_norm"):
        SupernetConfig(pool_norm="yes")
