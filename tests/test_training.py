"""Tests for the training loop, checkpoints, exact resume, NaN stop, configs and the CLI."""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from neurocompare._options import set_options
from neurocompare.cli import train as cli_train
from neurocompare.models import build_model
from neurocompare.training import (
    Batches,
    DataConfig,
    NonFiniteLossError,
    OptimizerConfig,
    RunFolderError,
    Supervised,
    TrainConfig,
    config_from_dict,
    config_to_dict,
    load_checkpoint,
    load_config,
    run_config,
    save_checkpoint,
    save_config,
    train,
)
from neurocompare.training.checkpoint import get_rng_state, set_rng_state
from neurocompare.training.data import synthetic_images
from neurocompare.training.loop import build_optimizer

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run fastest on one thread (and the CI machine's cores are shared)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _toy(seed=0):
    x, y = synthetic_images(96, channels=1, size=16, num_classes=4, seed=seed)
    return x, y


class NoisyObjective(Supervised):
    """Supervised loss plus a term that consumes torch, numpy and python RNGs (tests RNG restore)."""

    def forward(self, model, batch):
        import random

        x, y = batch
        x = x + 0.05 * torch.randn_like(x) + 0.01 * float(np.random.rand()) + 0.01 * random.random()
        return super().forward(model, (x, y))


class Interrupt(Exception):
    pass


def _run(out, steps, resume=False, checkpoint_every=3, interrupt_at=None, overwrite=False):
    x, y = _toy()

    def callback(step, metrics):
        if step == interrupt_at:
            raise Interrupt(step)

    model = build_model("convnet_small", in_channels=1, num_classes=4, seed=1)
    data = Batches(x, y, batch_size=16, seed=5)  # 6 batches per epoch: resume crosses epochs
    opt = OptimizerConfig(name="sgd", lr=0.05, schedule="cosine", warmup_steps=2)
    return train(model, NoisyObjective(), data, optimizer=opt, steps=steps, out_dir=out,
                 checkpoint_every=checkpoint_every, log_every=1, resume=resume, overwrite=overwrite, seed=3,
                 progress=False,
                 callback=callback)


def test_resume_is_bit_identical(tmp_path):
    full = _run(tmp_path / "full", steps=14)
    # interrupted run: killed during step 8 (last checkpoint at step 6), then resumed to 14
    part = tmp_path / "part"
    with pytest.raises(Interrupt):
        _run(part, steps=14, interrupt_at=8)
    assert load_checkpoint(part)["step"] == 6
    logged = [json.loads(s)["step"] for s in (part / "metrics.jsonl").read_text().splitlines()]
    assert logged == list(range(1, 9))  # steps 7 and 8 were logged after the last checkpoint
    resumed = _run(part, steps=14, resume=True)
    assert resumed.step == 14
    sd_full, sd_res = full.model.state_dict(), resumed.model.state_dict()
    for k in sd_full:
        assert torch.equal(sd_full[k], sd_res[k]), k
    # Every step is logged once: the resume drops the lines of steps 7-8 logged before the kill
    # (until the redesign the file read 1..8 then 7..14), and the whole log equals the
    # uninterrupted run's, loss for loss, bit for bit.
    lines = [json.loads(s) for s in (part / "metrics.jsonl").read_text().splitlines()]
    assert [ln["step"] for ln in lines] == list(range(1, 15))
    assert [ln["loss"] for ln in lines] == [h["loss"] for h in full.history]


def test_out_folder_with_a_run_is_refused_unless_resume_or_overwrite(tmp_path):
    out = tmp_path / "run"
    first = _run(out, steps=3)
    with pytest.raises(RunFolderError, match=r"already holds a training run.*resume=True.*overwrite=True"):
        _run(out, steps=3)
    assert load_checkpoint(out)["step"] == 3  # the refused call touched nothing
    with pytest.raises(ValueError, match="not both"):
        train(nn.Linear(1, 1), lambda m, b: m(b).sum(), lambda s: torch.ones(2, 1), steps=1, out_dir=out,
              resume=True, overwrite=True, progress=False)
    # overwrite starts over: same seed, same result, and metrics.jsonl holds only the new run
    again = _run(out, steps=2, checkpoint_every=0, overwrite=True)
    assert load_checkpoint(out)["step"] == 2
    assert [json.loads(s)["step"] for s in (out / "metrics.jsonl").read_text().splitlines()] == [1, 2]
    assert [h["loss"] for h in again.history] == [h["loss"] for h in first.history[:2]]
    # overwrite deletes the old checkpoint first: a run that dies before its first checkpoint
    # cannot leave the previous run's checkpoint behind to be resumed by mistake
    with pytest.raises(Interrupt):
        _run(out, steps=9, checkpoint_every=0, overwrite=True, interrupt_at=1)
    assert not (out / "checkpoint.pt").exists()
    # a folder without checkpoint.pt / metrics.jsonl (e.g. only a config) is free
    free = tmp_path / "free"
    free.mkdir()
    (free / "config.yaml").write_text("steps: 1\n")
    _run(free, steps=1)


def test_truncate_metrics_drops_lines_past_the_checkpoint_and_torn_lines(tmp_path):
    from neurocompare.training.checkpoint import truncate_metrics

    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": s, "loss": 1.0 / s}) + "\n" for s in range(1, 6)) + '{"step": 6, "lo')
    assert truncate_metrics(path, 3) == 3
    assert [json.loads(s)["step"] for s in path.read_text().splitlines()] == [1, 2, 3]
    assert truncate_metrics(path, 3) == 0
    assert truncate_metrics(tmp_path / "missing.jsonl", 3) == 0


def test_resume_without_checkpoint_starts_fresh(tmp_path):
    a = _run(tmp_path / "a", steps=3)
    b = _run(tmp_path / "b", steps=3, resume=True)
    assert a.history == [dict(h, items_per_s=a.history[i]["items_per_s"]) for i, h in enumerate(b.history)]


def test_callable_data_and_loss_decreases():
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])

    def objective(m, batch):
        return nn.functional.mse_loss(m(batch[0]), batch[1])

    res = train(model, objective, lambda step: (x, y), optimizer=OptimizerConfig(lr=0.05), steps=200,
                log_every=50, progress=False)
    assert res.history[-1]["loss"] < 1e-3 < res.history[0]["loss"]
    assert [h["step"] for h in res.history] == [50, 100, 150, 200]


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    model = nn.Linear(2, 1)
    x = torch.ones(4, 2)

    def objective(m, batch):
        step_loss = m(batch).mean() ** 2
        return step_loss * (float("nan") if objective.calls >= 5 else 1.0)

    objective.calls = 0

    def data(step):
        objective.calls = step
        return x

    with pytest.raises(NonFiniteLossError, match=r"step 6.*checkpoint\.pt.*step 4"):
        train(model, objective, data, steps=10, out_dir=tmp_path, checkpoint_every=2, progress=False)
    ck = load_checkpoint(tmp_path / "checkpoint.pt")
    assert ck["step"] == 4
    assert all(torch.isfinite(v).all() for v in ck["model"].values())
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_inf_loss_without_checkpoint_message():
    with pytest.raises(NonFiniteLossError, match="No checkpoint had been written"):
        train(nn.Linear(1, 1), lambda m, b: m(b).sum() * float("inf"), lambda s: torch.ones(2, 1), steps=3,
              progress=False)


def test_checkpoint_atomic_and_weights_only(tmp_path):
    path = tmp_path / "c" / "checkpoint.pt"
    save_checkpoint(path, {"step": 1, "w": torch.arange(3), "rng": get_rng_state()})
    save_checkpoint(path, {"step": 2, "w": torch.arange(4), "rng": get_rng_state()})
    assert [p.name for p in path.parent.iterdir()] == ["checkpoint.pt"]
    ck = torch.load(path, weights_only=True)
    assert ck["step"] == 2 and torch.equal(ck["w"], torch.arange(4))
    with pytest.raises(FileNotFoundError, match="No checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


def test_rng_state_roundtrip():
    import random

    state = get_rng_state()
    a = (torch.rand(3), np.random.rand(3), random.random())
    set_rng_state(state)
    b = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


@pytest.mark.parametrize("ext", ["yaml", "json"])
def test_config_round_trip(tmp_path, ext):
    cfg = TrainConfig(model="mlp", model_kwargs={"hidden": [8]}, objective="irm",
                      objective_kwargs={"penalty_weight": 100.0}, data=DataConfig(name="mnist", batch_size=32),
                      optimizer=OptimizerConfig(name="adamw", lr=3e-4, betas=(0.8, 0.9), grad_clip=1.0), steps=7)
    path = save_config(cfg, tmp_path / f"c.{ext}")
    back = load_config(path)
    assert back == cfg
    assert config_from_dict(config_to_dict(cfg)) == cfg


def test_config_errors(tmp_path):
    with pytest.raises(ValueError, match=r"Unknown TrainConfig key\(s\) \['stepz'\].*Valid keys"):
        config_from_dict({"stepz": 3})
    with pytest.raises(ValueError, match="Unknown OptimizerConfig"):
        config_from_dict({"optimizer": {"learning_rate": 1}})
    with pytest.raises(ValueError, match="must be one of"):
        OptimizerConfig(name="rmsprop")
    with pytest.raises(ValueError, match="steps must be >= 1"):
        TrainConfig(steps=0)
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(TypeError, match=r"TrainConfig.steps must be int; got 'ten'"):
        config_from_dict({"steps": "ten"})
    with pytest.raises(TypeError, match=r"TrainConfig.steps must be int; got 2.5"):
        config_from_dict({"steps": 2.5})
    with pytest.raises(TypeError, match=r"DataConfig.shuffle must be bool; got 3"):
        config_from_dict({"data": {"shuffle": 3}})
    with pytest.raises(TypeError, match=r"OptimizerConfig.betas\[1\] must be float"):
        OptimizerConfig(betas=(0.9, "x"))
    with pytest.raises(TypeError, match=r"TrainConfig.model must be str; got 3"):
        TrainConfig(model=3)
    with pytest.raises(TypeError, match=r"OptimizerConfig.lr must be float"):
        OptimizerConfig(lr=True)  # a switch is not a number
    (tmp_path / "c.txt").write_text("steps: 3")
    with pytest.raises(ValueError, match=r"\.yaml, \.yml or \.json"):
        load_config(tmp_path / "c.txt")


def test_yaml_numbers_in_exponent_notation_are_read_as_numbers(tmp_path):
    # YAML 1.1 (yaml.safe_load) reads 1e-3 (no dot, no exponent sign rule) as the string '1e-3'
    import yaml

    assert yaml.safe_load("lr: 1e-3")["lr"] == "1e-3"
    path = tmp_path / "c.yaml"
    path.write_text("optimizer: {lr: 1e-3, weight_decay: 5e-4, betas: [0.9, 0.999]}\nsteps: 1e3\n"
                    "data: {batch_size: 3.2e1}\n")
    cfg = load_config(path)
    assert cfg.optimizer.lr == 0.001 and type(cfg.optimizer.lr) is float
    assert cfg.optimizer.weight_decay == 0.0005
    assert cfg.steps == 1000 and type(cfg.steps) is int
    assert cfg.data.batch_size == 32 and type(cfg.data.batch_size) is int
    assert cfg.optimizer.betas == (0.9, 0.999)
    path.write_text("optimizer: {lr: 1e-3x}\n")
    with pytest.raises(TypeError, match=r"OptimizerConfig.lr must be float; got '1e-3x' \(str\)"):
        load_config(path)


def test_schedule_warmup_and_cosine():
    p = [nn.Parameter(torch.zeros(1))]
    opt, sched = build_optimizer(p, OptimizerConfig(name="sgd", lr=1.0, schedule="cosine", warmup_steps=4), 14)
    lrs = []
    for _ in range(14):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert lrs[4] == pytest.approx(1.0)
    assert lrs[9] == pytest.approx(0.5 * (1 + math.cos(math.pi * 5 / 10)))


def test_batches_epochs_and_sharding():
    x = torch.arange(10)
    b = Batches(x, batch_size=3, seed=0)
    e0 = [t[0].tolist() for t in b]
    assert len(e0) == 3 and len(b) == 3  # drop_last
    assert e0 == [t[0].tolist() for t in b]
    b.set_epoch(1)
    assert e0 != [t[0].tolist() for t in b]
    r0 = Batches(x, batch_size=2, shuffle=False, rank=0, world_size=2)
    r1 = Batches(x, batch_size=2, shuffle=False, rank=1, world_size=2)
    assert [t[0].tolist() for t in r0] == [[0, 1], [4, 5], [8, 9]]
    assert [t[0].tolist() for t in r1] == [[2, 3], [6, 7]]
    with pytest.raises(ValueError, match="same first dimension"):
        Batches(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match="no batch would be produced"):
        Batches(torch.zeros(3), batch_size=4)


def test_bad_inputs():
    m = nn.Linear(1, 1)
    with pytest.raises(TypeError, match="objective must be callable"):
        train(m, 3, [torch.ones(1, 1)], steps=1, progress=False)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        train(lambda x: x, lambda m, b: b.sum(), [torch.ones(1, 1)], steps=1, progress=False)
    with pytest.raises(TypeError, match="scalar tensor"):
        train(m, lambda mm, b: mm(b), [torch.ones(2, 1)], steps=1, progress=False)
    with pytest.raises(ValueError, match="yielded no batches"):
        train(m, lambda mm, b: mm(b).sum(), iter([torch.ones(1, 1)]), steps=3, progress=False)
    with pytest.raises(ValueError, match="CUDA is not available") if not torch.cuda.is_available() else _null():
        train(m, lambda mm, b: mm(b).sum(), [torch.ones(1, 1)], steps=1, device="cuda", progress=False)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def test_objective_with_parameters_is_trained_and_checkpointed(tmp_path):
    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.tensor(0.0))

        def forward(self, model, batch):
            return (model(batch).mean() * self.scale - 3.0) ** 2

    head = Head()
    train(nn.Linear(2, 1), head, lambda s: torch.ones(4, 2), steps=5, out_dir=tmp_path, progress=False,
          optimizer=OptimizerConfig(lr=0.1))
    assert head.scale.item() != 0.0
    assert torch.equal(load_checkpoint(tmp_path)["objective"]["scale"], head.scale.detach())


def test_run_config_and_cli(tmp_path):
    cfg = TrainConfig(model="convnet_small", model_kwargs={"in_channels": 1, "num_classes": 4},
                      data=DataConfig(name="synthetic_images", batch_size=16,
                                      kwargs={"n": 64, "channels": 1, "size": 16, "num_classes": 4}),
                      steps=4, checkpoint_every=2, log_every=2, progress=False)
    path = save_config(cfg, tmp_path / "cfg.yaml")
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cli_train.add_parser(sub)
    args = parser.parse_args(["train", str(path), "--out", str(tmp_path / "run")])
    assert args.func(args) == 0
    run = tmp_path / "run"
    # the same command again is refused before any work; --overwrite starts over, --resume continues
    with pytest.raises(RunFolderError, match="--overwrite"):
        args.func(args)
    with pytest.raises(SystemExit):  # argparse: --resume and --overwrite exclude each other
        parser.parse_args(["train", str(path), "--resume", "--overwrite"])
    args = parser.parse_args(["train", str(path), "--out", str(run), "--overwrite"])
    assert args.func(args) == 0
    assert {p.name for p in run.iterdir()} >= {"config.yaml", "metrics.jsonl", "checkpoint.pt"}
    assert load_config(run / "config.yaml").steps == 4
    assert load_checkpoint(run)["step"] == 4
    # resuming a finished run does nothing more
    res = run_config(path, resume=True, out_dir=run)
    assert res.step == 4 and res.history == []
    # the checkpoint records the config as a plain dict, so the model can be rebuilt from the file alone
    ck = load_checkpoint(run)
    assert ck["config"]["model"] == "convnet_small" and ck["config"]["model_kwargs"]["in_channels"] == 1
    other = config_from_dict(config_to_dict(cfg))
    other.optimizer.lr = 0.5
    with pytest.raises(ValueError, match="different configuration.*optimizer"):
        run_config(other, resume=True, out_dir=run)
    from neurocompare.models import resolve_model

    rebuilt = resolve_model(str(run / "checkpoint.pt")).model
    for k, v in res.model.state_dict().items():
        assert torch.equal(rebuilt.state_dict()[k], v.cpu()), k


def test_progress_bar_shows_loss_and_throughput(tmp_path, capsys):
    with set_options(progress=None):
        train(nn.Linear(1, 1), lambda m, b: m(b).pow(2).mean(), lambda s: torch.ones(8, 1), steps=3, log_every=1,
              progress=True)
    err = capsys.readouterr().err
    assert "loss=" in err and "items_s=" in err
    with set_options(progress=False):  # the global switch (NEUROCOMPARE_QUIET=1) beats progress=True
        train(nn.Linear(1, 1), lambda m, b: m(b).pow(2).mean(), lambda s: torch.ones(8, 1), steps=3, progress=True)
    assert capsys.readouterr().err == ""


@pytest.mark.slow
def test_ddp_two_cpu_processes_via_torchrun(tmp_path):
    """Same script under torchrun (2 CPU processes, gloo): runs, and the ranks stay in sync."""
    script = tmp_path / "ddp.py"
    script.write_text(
        "import torch, os\n"
        "from neurocompare.training import train, Batches, Supervised, OptimizerConfig\n"
        "from neurocompare.models import build_model\n"
        "from neurocompare.training.data import synthetic_images\n"
        "x, y = synthetic_images(64, channels=1, size=16, num_classes=4)\n"
        "m = build_model('convnet_small', in_channels=1, num_classes=4)\n"
        f"r = train(m, Supervised(), Batches(x, y, batch_size=8), steps=4, out_dir={str(tmp_path / 'o')!r}, progress=False)\n"
        "w = torch.cat([p.detach().flatten() for p in r.model.parameters()])\n"
        "torch.save(w, os.path.join(" + repr(str(tmp_path)) + ", f\"w{os.environ['RANK']}.pt\"))\n"
        "torch.distributed.destroy_process_group()\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29533",
                           str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    w0, w1 = torch.load(tmp_path / "w0.pt"), torch.load(tmp_path / "w1.pt")
    assert torch.equal(w0, w1)
    assert load_checkpoint(tmp_path / "o")["step"] == 4


@pytest.mark.gpu
def test_amp_on_gpu(tmp_path):
    model = build_model("convnet_small", in_channels=1, num_classes=4)
    x, y = _toy()
    res = train(model, Supervised(), Batches(x, y, batch_size=16), steps=6, amp="auto", device="cuda",
                out_dir=tmp_path, progress=False)
    assert math.isfinite(res.history[-1]["loss"])
    assert next(res.model.parameters()).is_cuda


def test_torch_dataloader_is_cycled_over_epochs():
    from torch.utils.data import DataLoader, TensorDataset

    x, y = _toy()
    loader = DataLoader(TensorDataset(x[:32], y[:32]), batch_size=8, shuffle=False)
    seen = []

    class Counting(Supervised):
        def forward(self, model, batch):
            seen.append(int(batch[0].shape[0]))
            return super().forward(model, batch)

    res = train(build_model("convnet_small", in_channels=1, num_classes=4), Counting(), loader, steps=10,
                log_every=5, progress=False)
    assert res.step == 10 and seen == [8] * 10
    assert res.history[-1]["epoch"] == 2  # 4 batches per epoch: steps 9-10 are in epoch 2


def test_torchvision_model_trains_through_the_loop():
    tv = pytest.importorskip("torchvision.models")
    model = tv.resnet18(weights=None, num_classes=4)
    x, y = torch.rand(8, 3, 32, 32), torch.randint(0, 4, (8,))
    res = train(model, Supervised(), [(x, y)], steps=2, log_every=1, progress=False)
    assert all(math.isfinite(h["loss"]) for h in res.history)


@pytest.mark.parametrize("path", sorted((REPO / "neurocompare" / "training" / "configs").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_shipped_configs_load_and_name_registered_parts(path):
    from neurocompare.models import MODELS
    from neurocompare.training import DATASETS, OBJECTIVES

    cfg = load_config(path)
    assert cfg.model in MODELS and cfg.objective in OBJECTIVES and cfg.data.name in DATASETS
    OBJECTIVES.get(cfg.objective)(**cfg.objective_kwargs)  # the kwargs are valid
    build_model(cfg.model, **cfg.model_kwargs)
