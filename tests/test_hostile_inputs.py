"""Bad input a hostile or unlucky user can give, each case asserting the error type and that the
message names the field or the file -- and that nothing foreign runs, no NaN weights are
written, no run is mixed with another and nothing is overwritten. (Hostile checkpoints:
``test_safe_loading.py``.)"""

from __future__ import annotations

import json
import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

from agents.cli import main
from agents.nat.trainer import NATConfig, train
from natgym import zoo
from natgym.data import load_dataset
from natgym.errors import ConfigError, GenotypeError, TrainingDiverged
from natgym.files import atomic_write, check_writable, write_json
from natgym.final import FinalConfig, train_seed
from natgym.genotype import Genotype
from natgym.reward import FunctionEvaluator
from natgym.spec import EvaluatorSpec
from natgym.supernet import SupernetConfig
from natgym.supernet.train import cache_dir, cached_supernet, default_config, train_supernet

TINY = SupernetConfig(channels=4, layers=3, steps=4, in_channels=3, num_classes=4).to_dict()


def _synthetic(**overrides):
    return default_config("synthetic", **{"epochs": 1, "net": TINY, **overrides})


def _cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    return code, err


# ----------------------------------------------------------------------------- numbers
@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"lr": float("nan")}, "lr"),
        ({"lr": -1.0}, "lr"),
        ({"lr": 0.0}, "lr"),
        ({"epochs": 0}, "epochs"),
        ({"batch_size": -3}, "batch_size"),
        ({"momentum": float("inf")}, "momentum"),
        ({"weight_decay": -1e-4}, "weight_decay"),
        ({"input_prob": 1.5}, "input_prob"),
    ],
)
def test_supernet_training_options_are_checked(overrides, field):
    with pytest.raises(ConfigError, match=f"^{field}: "):
        _synthetic(**overrides)


def test_negative_seed_is_refused_everywhere():
    with pytest.raises(ConfigError, match="^seed: "):
        default_config("synthetic", seed=-1)
    with pytest.raises(ConfigError, match="^seed: "):
        EvaluatorSpec(seed=-1)
    with pytest.raises(ConfigError, match="^seed: "):
        NATConfig(seed=-1).validate()


@pytest.mark.parametrize(
    "make, field",
    [
        (lambda: NATConfig(lr=float("nan")).validate(), "lr"),
        (lambda: NATConfig(entropy_coef=float("nan")).validate(), "entropy_coef"),
        (lambda: NATConfig(num_envs=0).validate(), "num_envs"),
        (lambda: NATConfig(cotrain_steps=0).validate(), "cotrain_steps"),
        (lambda: FinalConfig(lr=float("nan")), "lr"),
        (lambda: FinalConfig(drop_path=float("nan")), "drop_path"),
        (lambda: EvaluatorSpec(batch_size=0), "batch_size"),
        (lambda: EvaluatorSpec(threads=-1), "threads"),
        (lambda: EvaluatorSpec(mode="paper"), "mode"),
        (lambda: EvaluatorSpec(dataset="imagenet"), "dataset"),
        (lambda: EvaluatorSpec(device="tpu"), "device"),
        (lambda: EvaluatorSpec(device="cuda:7"), "device"),
        (lambda: EvaluatorSpec(supernet="/no/such/file.pt"), "supernet"),
        (lambda: EvaluatorSpec.of({"batchsize": 4}), "reward"),
    ],
)
def test_option_values_are_checked_where_they_enter(make, field):
    with pytest.raises(ConfigError, match=f"^{field}: "):
        make()


def test_a_diverging_supernet_stops_with_the_step_and_writes_nothing(tmp_path):
    out = tmp_path / "s.pt"
    with pytest.raises(TrainingDiverged, match=r"^training: the loss is nan at step \d+ .*lr=1e\+30"):
        train_supernet(_synthetic(lr=1e30, grad_clip=0.0, epochs=5), out, "cpu", progress=False)
    assert not out.exists() and not list(tmp_path.glob("*.tmp"))


def test_a_diverging_final_training_stops_before_saving(tmp_path):
    config = FinalConfig(
        dataset="synthetic", epochs=2, channels=2, layers=2, cutout=0, drop_path=0.0, auxiliary=0.0,
        lr=1e12, grad_clip=1e30,
    )  # fmt: skip
    with pytest.raises(TrainingDiverged, match="epoch 1 of seed 0"):
        train_seed(
            zoo.sample(0), config, load_dataset("synthetic"), 0, tmp_path, device="cpu", progress=False
        )
    assert not (tmp_path / "checkpoint.pt").exists()


# ----------------------------------------------------------------------------- resume honesty
def test_supernet_out_with_another_configuration_is_refused(tmp_path):
    out = train_supernet(_synthetic(), tmp_path / "s.pt", "cpu", progress=False)
    stamp = out.stat().st_mtime_ns
    with pytest.raises(ConfigError, match="^out: .*another configuration.*epochs 1 there, 2 asked"):
        train_supernet(_synthetic(epochs=2), out, "cpu", progress=False)
    assert train_supernet(_synthetic(), out, "cpu", progress=False) == out and out.stat().st_mtime_ns == stamp


def test_agent_resume_with_another_configuration_is_refused(tmp_path):
    def cfg(**kw):
        return NATConfig(num_envs=2, updates=2, progress=False, out_dir=str(tmp_path), **kw)

    train(cfg(lr=1e-3), evaluator=FunctionEvaluator(lambda g: 0.5))
    saved = (tmp_path / "checkpoint.pt").read_bytes()
    with pytest.raises(
        ConfigError, match=r"^out_dir: .*another configuration \(lr 0\.001 there, 0\.0003 asked"
    ):
        train(cfg(lr=3e-4), evaluator=FunctionEvaluator(lambda g: 0.5))
    assert (tmp_path / "checkpoint.pt").read_bytes() == saved
    longer = NATConfig(num_envs=2, updates=3, lr=1e-3, progress=False, out_dir=str(tmp_path))
    assert len(train(longer, evaluator=FunctionEvaluator(lambda g: 0.5)).history) == 3  # more updates: fine


# ----------------------------------------------------------------------------- corrupt files
def test_a_corrupt_cached_supernet_is_moved_aside_and_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("NATGYM_CACHE", str(tmp_path))
    config = _synthetic()
    path = cached_supernet(config, "cpu", progress=False)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(UserWarning, match="NATGYM_CACHE: the cached supernet .* was unreadable; moved it"):
        again = cached_supernet(config, "cpu", progress=False)
    assert again == path and len(list(cache_dir().glob("*.corrupt-*"))) == 1
    EvaluatorSpec("synthetic", device="cpu", batch_size=16).build(progress=False)  # loads fine


def test_a_corrupt_out_supernet_names_the_file(tmp_path):
    out = tmp_path / "s.pt"
    out.write_bytes(b"\x00" * 10)
    with pytest.raises(ConfigError, match=f"^out: .*{out.name}.*delete it"):
        train_supernet(_synthetic(), out, "cpu", progress=False)


def test_a_corrupt_seed_result_names_the_file(tmp_path):
    config = FinalConfig(
        dataset="synthetic", epochs=1, channels=2, layers=2, cutout=0, drop_path=0.0, auxiliary=0.0
    )
    (tmp_path / "result.json").write_text('{"torn')
    with pytest.raises(ConfigError, match="^out_dir: cannot read .*result.json.*delete it"):
        train_seed(
            zoo.sample(0), config, load_dataset("synthetic"), 0, tmp_path, device="cpu", progress=False
        )


# ----------------------------------------------------------------------------- faults
def test_output_paths_are_checked_before_any_work(tmp_path):
    with pytest.raises(ConfigError, match="^out: .* is a directory"):
        train_supernet(_synthetic(epochs=50), tmp_path, "cpu", progress=False)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="^out: cannot write in"):
        check_writable(blocker / "sub" / "s.pt", "out")
    with pytest.raises(ConfigError, match="^out: .* MB free .* needed"):
        check_writable(tmp_path / "s.pt", "out", need_bytes=10**18)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "result.json"
    target.write_text("old")

    def fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        atomic_write(target, fail)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_written_json_is_strict_and_files_get_usual_permissions(tmp_path):
    path = write_json(tmp_path / "r.json", {"a": float("nan"), "b": [1.0, float("inf")]})
    text = path.read_text()
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c}")) == {
        "a": None,
        "b": [1.0, None],
    }
    umask = os.umask(0o022)
    try:
        from natgym.render import save_png

        png = save_png(tmp_path / "c.png", zoo.get("DARTS"))
        assert (png.stat().st_mode & 0o777) == 0o644 and (path.stat().st_mode & 0o777) == 0o644
    finally:
        os.umask(umask)


# ----------------------------------------------------------------------------- CIFAR files
class Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _cifar_folder(tmp_path: Path, broken: bytes | None = None, labels: int = 10) -> Path:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    files = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in files:
        batch = {b"data": np.zeros((10, 3072), np.uint8), b"labels": list(range(10))[:labels]}
        (folder / name).write_bytes(pickle.dumps(batch))
    if broken is not None:
        (folder / "data_batch_3").write_bytes(broken)
    return tmp_path


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "data_batch_3"),
        (pickle.dumps({b"data": np.zeros((4, 3072), np.uint8), b"labels": [1]})[:40], "data_batch_3"),
        (b"garbage" * 20, "data_batch_3"),
        (pickle.dumps({b"images": 1}), "not a CIFAR batch"),
    ],
)
def test_broken_cifar_files_name_the_file(tmp_path, content, reason):
    root = _cifar_folder(tmp_path, content)
    with pytest.raises(ConfigError, match=f"^data_root: .*{reason}"):
        load_dataset("cifar10", root)


def test_cifar_short_labels_and_hostile_pickles_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="^data_root: .*10 labels|^data_root: .*labels; expected"):
        load_dataset("cifar10", _cifar_folder(tmp_path / "short", labels=4))
    marker = tmp_path / "ran"
    root = _cifar_folder(tmp_path / "evil", pickle.dumps(Payload(marker)))
    with pytest.raises(ConfigError, match="^data_root: .*refused to load"):
        load_dataset("cifar10", root)
    assert not marker.exists()


# ----------------------------------------------------------------------------- the parser
@pytest.mark.parametrize(
    "text, field",
    [
        ('{"normal": [["skip_connect", 0, 100000000000], ["skip_connect", 1, 2]], "normal_concat": [2],'
         ' "reduce": [["skip_connect", 0, 2], ["skip_connect", 1, 2]], "reduce_concat": [2]}',
         r"normal\[1\]\.to"),
        ("[" * 100_000 + "]" * 100_000, "text"),
        ("{[1]: 2}", "text"),
        ("Genotype(normal=[('skip_connect', 0)], normal_concat=range('a'), reduce=[], reduce_concat=[])",
         "normal_concat"),
        ("Genotype(normal=[('skip_connect', 0)], normal_concat=range(10**9), reduce=[], reduce_concat=[])",
         "normal_concat"),
        ('{"normal": [["skip_connect", 0, ' + "9" * 5000 + ']]}', "text"),
        ('{"normal": 1, "normal": 2}', "normal"),
        ("x" * 200_000, "text"),
    ],
)  # fmt: skip
def test_parser_limits(text, field):
    with pytest.raises(GenotypeError, match=f"^{field}"):
        Genotype.parse(text)


def test_non_utf8_files_and_bad_with_ops(tmp_path):
    path = tmp_path / "g.json"
    path.write_bytes(b'{"normal": "\xff\xfe"}')
    with pytest.raises(GenotypeError, match="^arch: .*not UTF-8"):
        zoo.resolve(str(path))
    g = zoo.get("DARTS")
    for bad in ([-1] * 8, [13] * 8, [True] * 8, [1.5] * 8):
        with pytest.raises(GenotypeError, match=r"^ops\[0\]: expected an op name or an index in 0\.\.12"):
            g.with_ops(bad, g.reduce.ops)


# ----------------------------------------------------------------------------- the CLI
@pytest.mark.parametrize(
    "argv, field",
    [
        (["train-supernet", "--dataset", "synthetic", "--lr", "nan", "--epochs", "1"], "lr"),
        (["train-supernet", "--dataset", "synthetic", "--threads", "0"], "threads"),
        (["train-supernet", "--dataset", "synthetic", "--seed", "-1"], "seed"),
        (["train-supernet", "--dataset", "synthetic", "--device", "cuda:7"], "device"),
        (["evaluate", "--genotype", "DARTS", "--device", "cuda:7", "--epochs", "1"], "device"),
        (["fidelity", "--threads", "-1"], "threads"),
        (["bench", "--quick", "--device", "quantum"], "device"),
        (["bench", "--inputs", "3"], "--inputs"),
        (["bench", "--protocol", "amortized", "--arch", "VGG"], "--arch"),
        (["bench", "--protocol", "amortized", "--ray"], "--ray"),
        (["bench", "--protocol", "amortized", "--seeds", "0"], "seeds"),
        (["pareto", "--cost-weights", "0,x"], "--cost-weights"),
        (["pareto", "--agent", "sgd"], "agent"),
        (["pareto", "--cost-weights", "0,-1"], "weights"),
        (["train-agent", "--lr", "nan", "--updates", "1"], "lr"),
        (["train-agent", "--entropy-coef", "nan"], "entropy_coef"),
        (["train-agent", "--supernet-seed", "-1"], "seed"),
        (["zoo", "Genotype(normal=\udcff)"], "text"),
    ],
)
def test_cli_errors_are_one_line_exit_2(capsys, tmp_path, monkeypatch, argv, field):
    monkeypatch.setenv("NATGYM_CACHE", str(tmp_path))
    code, err = _cli(capsys, *argv)
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"natgym: error: {field}: ")


def test_cli_unexpected_errors_hint_at_debug(capsys, monkeypatch):
    import agents.cli as cli

    def boom(args):
        raise RuntimeError("something broke")

    monkeypatch.setattr(cli, "cmd_rules", boom)
    code, err = _cli(capsys, "rules")
    assert code == 1 and "RuntimeError: something broke" in err and "--debug" in err and err.count("\n") == 1
    with pytest.raises(RuntimeError):
        main(["--debug", "rules"])

    def full_disk(args):
        raise OSError(28, "No space left on device", "/data/out.pt")

    monkeypatch.setattr(cli, "cmd_rules", full_disk)
    code, err = _cli(capsys, "rules")
    assert code == 2 and err == "natgym: error: /data/out.pt: No space left on device\n"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_nan_lr_never_reaches_the_disk(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("NATGYM_CACHE", str(tmp_path))
    code, _ = _cli(
        capsys, "train-supernet", "--dataset", "synthetic", "--lr", "nan", "--out", str(tmp_path / "s.pt")
    )
    assert code == 2 and list(tmp_path.iterdir()) == []
