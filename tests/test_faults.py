"""Fault injection: 22 scenarios in which a user's run meets a kill, a full disk, a read-only folder,
a corrupt file, a concurrent writer or a wrong input. Each asserts that nothing is lost and that the
message says what to do (issue 13).

Every scenario runs the package in subprocesses, as a user would (``python -m neurocompare ...``
or a short script), on a tiny model defined in a module file and a synthetic benchmark:

- kills: ``SIGKILL`` at a chosen point (a marker file written by the model's ``forward``, a line
  in a log, a state file appearing);
- read-only folders: we run as root, which ignores permissions, so the child drops
  ``CAP_DAC_OVERRIDE`` / ``CAP_DAC_READ_SEARCH`` / ``CAP_FOWNER`` from its bounding set with
  ``setpriv`` (root then obeys the mode bits like any user); skipped where ``setpriv`` is missing
  and we are root;
- full disk: ``RLIMIT_FSIZE`` (``ulimit -f``) in the child; Python ignores ``SIGXFSZ``, so a write
  past the limit fails with ``EFBIG`` as on a full disk;
- corruption: bytes overwritten, files truncated; concurrency: threads and processes writing one path.

``NEUROCOMPARE_FAULTS_SRC`` runs the scenarios against another checkout (``git worktree add
/tmp/before13 1807a0f``) to measure the before/after table of issue 13; by default the package
under test is this repository's.

The scenarios that start several interpreters (each ~5-15 s on 2 shared cores) are marked ``slow``.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = Path(os.environ.get("NEUROCOMPARE_FAULTS_SRC", REPO))
SETPRIV = shutil.which("setpriv")
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

# ----------------------------------------------------------------------------- the user's files
FIXTURE = '''
"""A user's model and benchmark for the fault scenarios (written into each test's folder)."""
import os
import time

import numpy as np
import torch
import xarray as xr
from torch import nn

import neurocompare as nc
from neurocompare.benchmarks import Benchmark, register_benchmark

HERE = os.path.dirname(os.path.abspath(__file__))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(32, 5)
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)

    def forward(self, x):
        open(os.path.join(HERE, "forward_ran"), "a").close()
        if os.path.exists(os.path.join(HERE, "SLOW")):
            time.sleep(1.0)
        h = self.relu(self.conv(x))  # EDIT-POINT
        return self.fc(self.pool(h).flatten(1))


def build(seed=0):
    return Net()


def make_benchmark(root=None):
    rng = np.random.default_rng(0)
    n = 40
    ids = np.array([f"img{i:03d}" for i in range(n)])
    images = rng.integers(0, 256, size=(n, 12, 12, 3), dtype=np.uint8)
    signal = images.reshape(n, -1)[:, :6].astype(float) / 255.0
    values = signal[:, :, None] + 0.3 * rng.normal(size=(n, 6, 4))
    data = nc.make_responses(values, stimulus_ids=ids, dims=("stimulus", "unit", "repetition"))
    stimuli = xr.DataArray(images, dims=("stimulus", "height", "width", "channel"),
                           coords={"stimulus_id": ("stimulus", ids)})
    return Benchmark(data=data, stimuli=stimuli, identifier="synthetic.faults.v1", metric="ridge",
                     ceiling="split_half", n_splits=3, test_fraction=0.25)


register_benchmark("synthetic.faults.v1", description="fault scenarios", metric="ridge",
                   ceiling="split_half")(make_benchmark)
'''

TRAIN_CONFIG = """
model: convnet_small
model_kwargs: {num_classes: 10}
objective: supervised
data:
  name: synthetic_images
  batch_size: 16
  kwargs: {n: 64, channels: 3, size: 16}
optimizer: {name: sgd, lr: 1e-2, momentum: 0.9}
steps: 40
checkpoint_every: 10
log_every: 1
seed: 0
"""

# a CLI driver: imports the user's module (registers the benchmark); optionally slows each
# optimiser step so that a kill can land mid-run
DRIVER = """
import sys, time
if "--slow-steps" in sys.argv:
    sys.argv.remove("--slow-steps")
    import torch
    _step = torch.optim.SGD.step
    def _slow(self, *a, **k):
        time.sleep(0.1)
        return _step(self, *a, **k)
    torch.optim.SGD.step = _slow
import fx
from neurocompare.cli import main
sys.exit(main(sys.argv[1:]))
"""


# ----------------------------------------------------------------------------- helpers
def _env(folder: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=f"{SRC}{os.pathsep}{folder}",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        NEUROCOMPARE_QUIET="1",
        NEUROCOMPARE_CACHE=str(folder / "default_cache"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def _limits(fsize: int | None):
    def apply() -> None:
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return apply


def _cmd(args: list[str], *, unprivileged: bool) -> list[str]:
    cmd = [sys.executable, *args]
    if unprivileged and IS_ROOT:
        cmd = [SETPRIV, "--bounding-set=-dac_override,-dac_read_search,-fowner", *cmd]
    return cmd


class Run:
    """The result of a subprocess: ``rc``, ``out`` (stdout + stderr) and ``seconds``."""

    def __init__(self, rc: int, out: str, seconds: float) -> None:
        self.rc, self.out, self.seconds = rc, out, seconds

    def __repr__(self) -> str:
        return f"Run(rc={self.rc}, {self.seconds:.1f} s)\n{self.out[-3000:]}"


def run_py(folder: Path, code: str, *, fsize: int | None = None, unprivileged: bool = False, timeout: float = 300) -> Run:
    """Run ``code`` in a fresh interpreter in ``folder`` (package under test and ``folder`` importable)."""
    t0 = time.time()
    p = subprocess.run(
        _cmd(["-c", textwrap.dedent(code)], unprivileged=unprivileged), cwd=folder, env=_env(folder),
        capture_output=True, text=True, timeout=timeout, preexec_fn=_limits(fsize),
    )
    return Run(p.returncode, p.stdout + p.stderr, time.time() - t0)


def cli(folder: Path, *args: str, fsize: int | None = None, unprivileged: bool = False, timeout: float = 300) -> Run:
    """``neurocompare ARGS`` with the user's module imported first."""
    t0 = time.time()
    p = subprocess.run(
        _cmd(["-c", DRIVER, "--quiet", *args], unprivileged=unprivileged), cwd=folder, env=_env(folder),
        capture_output=True, text=True, timeout=timeout, preexec_fn=_limits(fsize),
    )
    return Run(p.returncode, p.stdout + p.stderr, time.time() - t0)


def cli_killed_when(folder: Path, args: list[str], ready, *, timeout: float = 300) -> None:
    """Start ``neurocompare ARGS``; SIGKILL it as soon as ``ready()`` is true (it must not finish first)."""
    p = subprocess.Popen(
        _cmd(["-c", DRIVER, "--quiet", *args], unprivileged=False), cwd=folder, env=_env(folder),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    t0 = time.time()
    try:
        while not ready():
            if p.poll() is not None:
                raise AssertionError(f"the run ended (rc={p.returncode}) before the kill point:\n{p.stdout.read()[-3000:]}")
            if time.time() - t0 > timeout:
                raise AssertionError("the kill point was never reached")
            time.sleep(0.01)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()
    assert p.returncode == -signal.SIGKILL


@pytest.fixture
def user(tmp_path: Path) -> Path:
    """A folder holding the user's model/benchmark module ``fx.py``."""
    (tmp_path / "fx.py").write_text(FIXTURE)
    return tmp_path


def read_only_folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o555)
    return path


needs_unprivileged = pytest.mark.skipif(
    IS_ROOT and SETPRIV is None, reason="running as root without setpriv: permissions cannot be enforced"
)

SCORE = ["score", "--model", "fx:build", "--benchmark", "synthetic.faults.v1", "--layers", "relu", "fc"]


def score_value(run: Run) -> float:
    """The value column of the one-row table printed by ``neurocompare score``."""
    for line in run.out.splitlines():
        if "synthetic.faults.v1" in line:
            return float(line.split()[2])
    raise AssertionError(f"no score row in the output:\n{run.out[-3000:]}")


# ============================================================================= 1-4: the cache
@pytest.mark.slow
def test_01_score_killed_mid_run_then_rerun_gives_the_same_score(user):
    ref = cli(user, *SCORE, "--no-cache")
    assert ref.rc == 0, ref
    (user / "SLOW").touch()
    (user / "forward_ran").unlink()
    cli_killed_when(user, [*SCORE, "--cache-dir", "cache", "--out", "out"], lambda: (user / "forward_ran").exists())
    (user / "SLOW").unlink()
    again = cli(user, *SCORE, "--cache-dir", "cache", "--out", "out")
    assert again.rc == 0, again
    assert score_value(again) == score_value(ref)


@pytest.mark.slow
def test_02_corrupt_cache_entry_is_detected_deleted_and_recomputed(user):
    first = cli(user, *SCORE, "--cache-dir", "cache")
    assert first.rc == 0, first
    entries = sorted((user / "cache").rglob("*.nc"))
    assert len(entries) == 2
    raw = bytearray(entries[0].read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 64] = bytes(64)
    entries[0].write_bytes(bytes(raw))
    again = cli(user, *SCORE, "--cache-dir", "cache")
    assert again.rc == 0, again
    assert "corrupt" in again.out
    assert score_value(again) == score_value(first)


@pytest.mark.slow
def test_03_editing_forward_with_the_same_weights_misses_the_cache(user):
    first = cli(user, *SCORE, "--cache-dir", "cache")
    assert first.rc == 0, first
    fx = user / "fx.py"
    fx.write_text(fx.read_text().replace("h = self.relu(self.conv(x))  # EDIT-POINT", "h = self.relu(-self.conv(x))"))
    fresh = cli(user, *SCORE, "--no-cache")
    cached = cli(user, *SCORE, "--cache-dir", "cache")
    assert fresh.rc == 0 and cached.rc == 0, (fresh, cached)
    assert score_value(fresh) != score_value(first)  # the edit changes the score...
    assert score_value(cached) == score_value(fresh)  # ...and the cache must not hide it
    assert "0 hit(s)" in cached.out


def test_04_different_lambdas_and_transforms_never_share_an_entry(user):
    r = run_py(user, """
        import numpy as np, torch
        import fx
        from neurocompare.cache import ActivationCache, cached_extract
        torch.manual_seed(0)
        model, stim = fx.build(), torch.rand(6, 3, 12, 12)
        cache = ActivationCache("cache", verbose=False)
        def run(cache, **kw):
            return cached_extract(model, stim, ["relu"], cache=cache, progress=False, **kw)["relu"].values
        mean_ = lambda x: x.mean(dim=(2, 3))
        max_ = lambda x: x.amax(dim=(2, 3))
        for kw_a, kw_b in (({"reduce": mean_}, {"reduce": max_}),
                           ({"reduce": "avgpool", "transform": lambda x: x}, {"reduce": "avgpool", "transform": lambda x: 2 * x})):
            a, b = run(cache, **kw_a), run(cache, **kw_b)
            np.testing.assert_array_equal(b, run(None, **kw_b))  # b is its own result, never a's entry
            assert not np.array_equal(a, b)
        print("ok")
    """)
    assert r.rc == 0 and "ok" in r.out, r


# ============================================================================= 5-9: write failures
@pytest.mark.slow
@needs_unprivileged
def test_05_read_only_out_fails_before_any_compute(user):
    ro = read_only_folder(user / "ro")
    for args in (SCORE + ["--no-cache", "--out", str(ro / "scores")],
                 ["extract", "--model", "fx:build", "--stimuli", "stim.npy", "--layers", "relu", "--out", str(ro / "acts")]):
        np.save(user / "stim.npy", np.random.default_rng(0).integers(0, 256, (4, 12, 12, 3), dtype=np.uint8))
        (user / "forward_ran").unlink(missing_ok=True)
        r = cli(user, *args, unprivileged=True)
        assert r.rc != 0, r
        assert "--out" in r.out and "writable" in r.out, r  # says what to do
        assert not (user / "forward_ran").exists(), "the model ran before the output folder was checked"


@pytest.mark.slow
@needs_unprivileged
def test_06_unwritable_cache_is_a_warning_not_fatal(user):
    ref = cli(user, *SCORE, "--no-cache")
    ro = read_only_folder(user / "ro_cache")
    r = cli(user, *SCORE, "--cache-dir", str(ro), unprivileged=True)
    assert r.rc == 0, r
    assert score_value(r) == score_value(ref)
    assert "activation cache" in r.out and "--no-cache" in r.out, r


@pytest.mark.slow
def test_07_full_disk_during_cache_writes_is_a_warning_not_a_crash(user):
    ref = cli(user, *SCORE, "--no-cache")
    r = cli(user, *SCORE, "--cache-dir", "cache", fsize=2000)  # ulimit -f: every cache entry is too large
    assert r.rc == 0, r  # before: Segmentation fault (rc -11 / 139)
    assert score_value(r) == score_value(ref)
    assert "activation cache" in r.out and ("ulimit" in r.out or "disk" in r.out), r
    assert not [p for p in (user / "cache").rglob("*") if p.is_file()]  # no partial entry left


@pytest.mark.slow
def test_08_full_disk_while_checkpointing_keeps_the_last_checkpoint(user):
    (user / "cfg.yaml").write_text(TRAIN_CONFIG.replace("steps: 40", "steps: 10"))
    first = cli(user, "train", "cfg.yaml", "--out", "run")
    assert first.rc == 0, first
    good = (user / "run" / "checkpoint.pt").read_bytes()
    (user / "cfg.yaml").write_text(TRAIN_CONFIG.replace("steps: 40", "steps: 20"))
    full = cli(user, "train", "cfg.yaml", "--out", "run", "--resume", fsize=len(good) // 2)
    assert full.rc not in (0, -11, 139), full
    assert "inline_container" not in full.out and "checkpoint" in full.out, full
    assert "ulimit" in full.out or "disk" in full.out, full  # what to do
    assert (user / "run" / "checkpoint.pt").read_bytes() == good  # the last good checkpoint survives
    assert not list((user / "run").glob(".*.tmp"))
    resumed = cli(user, "train", "cfg.yaml", "--out", "run", "--resume")
    assert resumed.rc == 0, resumed


def test_09_metamer_state_killed_while_saving_keeps_a_good_state(user):
    code = """
        import sys, torch
        from torch import nn
        import neurocompare as nc
        torch.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(1, 64, 3), nn.ReLU(), nn.Flatten(), nn.Linear(64 * 62 * 62, 3))
        syn = nc.MetamerSynthesis(model, ["1"], torch.rand(4, 1, 64, 64), n_rounds=1, steps_per_round=1, progress=False)
        syn.save_state("state.npz")
        print("saved", flush=True)
        while True:
            syn.save_state("state.npz")
    """
    for kill in range(5):
        p = subprocess.Popen(_cmd(["-c", textwrap.dedent(code)], unprivileged=False), cwd=user, env=_env(user),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert p.stdout.readline().strip() == "saved", p.stdout.read()
            time.sleep(0.05 + 0.037 * kill)  # land the kill at different points of a write
            p.send_signal(signal.SIGKILL)
            p.wait(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
        state = np.load(user / "state.npz", allow_pickle=False)
        assert state["x"].shape == (4, 1, 64, 64), f"kill {kill}: the state is damaged"


# ============================================================================= 10-13: long runs
@pytest.mark.slow
def test_10_metamers_cli_killed_and_resumed_is_bit_identical(user):
    import xarray as xr

    np.save(user / "img.npy", np.random.default_rng(0).integers(0, 256, (2, 3, 12, 12), dtype=np.uint8))
    args = ["metamers", "--model", "fx:build", "--layers", "relu", "--images", "img.npy", "--n-rounds", "3",
            "--steps-per-round", "4"]
    ref = cli(user, *args, "--out", "ref")
    assert ref.rc == 0, ref
    (user / "SLOW").touch()
    state = user / "killed" / "metamers_state.npz"
    cli_killed_when(user, [*args, "--out", "killed"], lambda: state.exists())
    (user / "SLOW").unlink()
    refused = cli(user, *args, "--out", "killed")
    assert refused.rc != 0 and "--resume" in refused.out, refused  # never silently restarted or overwritten
    resumed = cli(user, *args, "--out", "killed", "--resume")
    assert resumed.rc == 0, resumed
    a = xr.open_dataset(user / "ref" / "metamers.nc", engine="h5netcdf")
    b = xr.open_dataset(user / "killed" / "metamers.nc", engine="h5netcdf")
    np.testing.assert_array_equal(a["metamer"].values, b["metamer"].values)  # bit-identical
    np.testing.assert_array_equal(a["loss"].values, b["loss"].values)


@pytest.mark.slow
def test_11_train_refuses_a_folder_that_holds_a_run(user):
    (user / "cfg.yaml").write_text(TRAIN_CONFIG.replace("steps: 40", "steps: 10"))
    assert cli(user, "train", "cfg.yaml", "--out", "run").rc == 0
    before = {name: (user / "run" / name).read_bytes() for name in ("metrics.jsonl", "checkpoint.pt")}
    again = cli(user, "train", "cfg.yaml", "--out", "run")
    assert again.rc != 0 and "--resume" in again.out and "--overwrite" in again.out, again
    assert {name: (user / "run" / name).read_bytes() for name in before} == before


def _metrics(path: Path) -> list[dict]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return [{k: v for k, v in d.items() if k != "items_per_s"} for d in lines]  # throughput is wall-clock


@pytest.mark.slow
def test_12_training_killed_and_resumed_is_bit_identical_without_duplicate_lines(user):
    import torch

    (user / "cfg.yaml").write_text(TRAIN_CONFIG)
    ref = cli(user, "train", "cfg.yaml", "--out", "ref")
    assert ref.rc == 0, ref
    log = user / "run" / "metrics.jsonl"

    def past_checkpoint() -> bool:  # killed after step 15: steps 11-15 were logged after the checkpoint of step 10
        try:
            return any(json.loads(line)["step"] >= 15 for line in log.read_text().splitlines() if line.endswith("}"))
        except (OSError, ValueError):
            return False

    cli_killed_when(user, ["train", "cfg.yaml", "--out", "run", "--slow-steps"], past_checkpoint)
    resumed = cli(user, "train", "cfg.yaml", "--out", "run", "--resume")
    assert resumed.rc == 0, resumed
    a = torch.load(user / "ref" / "checkpoint.pt", weights_only=True)
    b = torch.load(user / "run" / "checkpoint.pt", weights_only=True)
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    steps = [d["step"] for d in _metrics(log)]
    assert steps == sorted(set(steps)) == list(range(1, 41))  # each step logged once
    assert _metrics(log) == _metrics(user / "ref" / "metrics.jsonl")


# ============================================================================= 13-16: corrupt files
SAVE = """
    import numpy as np, neurocompare as nc
    rng = np.random.default_rng(0)
    nc.save(nc.make_responses(rng.normal(size=(200, 50))), "r.nc")
"""


def test_13_eight_overwritten_bytes_are_detected_on_load(user):
    assert run_py(user, SAVE).rc == 0
    r = run_py(user, """
        import numpy as np, h5py, neurocompare as nc
        with h5py.File("r.nc", "r") as f:  # locate the values inside the file
            offset = f["responses"].id.get_offset()
        raw = bytearray(open("r.nc", "rb").read())
        raw[offset + 800 : offset + 808] = np.float64(1e9).tobytes()
        open("r.nc", "wb").write(bytes(raw))
        try:
            bad = nc.load("r.nc")
            print("LOADED max", float(bad.max()))
        except Exception as err:
            print("ERROR", type(err).__name__, err)
    """)
    assert "ERROR" in r.out and "r.nc" in r.out and "corrupt" in r.out.lower(), r


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_14_truncated_or_bit_flipped_netcdf_names_the_file(user, damage):
    assert run_py(user, SAVE).rc == 0
    raw = bytearray((user / "r.nc").read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 3]
    else:
        for i in range(0, 512):  # the superblock and root group header
            raw[i] ^= 0xFF
    (user / "r.nc").write_bytes(bytes(raw))
    r = run_py(user, """
        import neurocompare as nc
        try:
            nc.load("r.nc")
        except Exception as err:
            print("ERROR", type(err).__name__, err)
    """)
    assert "ERROR" in r.out and "r.nc" in r.out, r
    assert "Re-create" in r.out or "restore" in r.out, r  # what to do


@pytest.mark.slow
def test_15_report_warns_about_every_unreadable_score_and_fails(user):
    first = cli(user, *SCORE, "--no-cache", "--out", "scores")
    assert first.rc == 0, first
    score_file = next(p for p in (user / "scores").glob("*.json"))
    score_file.write_text(score_file.read_text()[:100])  # truncated
    r = cli(user, "report", "scores", "--format", "png")
    assert r.rc != 0, r
    assert score_file.name in r.out, r


def test_16_concurrent_writers_leave_one_complete_file(user):
    r = run_py(user, """
        import threading, numpy as np, neurocompare as nc
        errors = []
        def write(i):
            try:
                for _ in range(5):
                    nc.save(nc.make_responses(np.full((50, 20), float(i))), "r.nc")
            except Exception as err:
                errors.append(repr(err))
        threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        back = nc.load("r.nc").values
        print("errors", len(errors), errors[:1])
        print("value", back.min(), back.max())
    """)
    assert "errors 0" in r.out, r
    values = r.out.split("value")[-1].split()
    assert values[0] == values[1] and float(values[0]) in (0.0, 1.0, 2.0, 3.0), r  # one writer's whole file
    leftovers = [p.name for p in user.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == [], leftovers


# ============================================================================= 17-18: housekeeping, hangs
def test_17_orphaned_temporary_files_are_swept(user):
    cache = user / "cache"
    (cache / "ab").mkdir(parents=True)
    dead = 2**22 + 12345  # above the default pid_max: never a live process
    orphans = [cache / "ab" / f".{'ab' + 'c' * 62}.nc.{dead}.tmp",  # a killed writer (legacy name)
               cache / "ab" / f".{'ab' + 'd' * 62}.nc.{dead}.1.0a0b0c0d.tmp"]
    for p in orphans:
        p.write_bytes(b"partial")
        os.utime(p, (time.time() - 7200, time.time() - 7200))
    r = run_py(user, """
        from neurocompare.cache import ActivationCache
        ActivationCache("cache", verbose=False).clear()
    """)
    assert r.rc == 0, r
    assert not any(p.exists() for p in orphans)


def test_18_sweep_with_zero_workers_fails_at_once(user):
    r = cli(user, "sweep", "--models", "fx:build", "--benchmarks", "synthetic.faults.v1", "--workers", "0",
            "--out", "sw", timeout=120)
    assert r.rc != 0, r
    assert "workers" in r.out and ">= 1" in r.out, r


# ============================================================================= 19: sweep kill
@pytest.mark.slow
def test_19_sweep_killed_and_resumed_reuses_finished_tasks(user):
    pytest.importorskip("distributed")
    code = """
        import sys, fx, neurocompare as nc
        try:
            from neurocompare.benchmarks import run_sweep
        except ImportError:
            from neurocompare.sweep import run_sweep
        res = run_sweep(["fx:build"], ["synthetic.faults.v1"], layers=["conv", "relu", "pool", "fc"], out="sw",
                        n_workers=1)
        ser = nc.score("fx:build", "synthetic.faults.v1", layers=["conv", "relu", "pool", "fc"], progress=False)
        print("reused", res.n_reused, "equal", abs(res.scores[0].value - ser.value) < 1e-12)
    """
    log = user / "sw" / "sweep.jsonl"
    p = subprocess.Popen(_cmd(["-c", textwrap.dedent(code)], unprivileged=False), cwd=user, env=_env(user),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    t0 = time.time()
    try:
        while not (log.exists() and '"layer"' in log.read_text()):
            assert p.poll() is None and time.time() - t0 < 300, p.stdout.read() if p.poll() is not None else "timeout"
            time.sleep(0.05)
    finally:
        os.killpg(p.pid, signal.SIGKILL)  # the client and its workers
        p.wait()
        p.stdout.close()
    r = run_py(user, code)
    assert r.rc == 0, r
    words = r.out.split("reused")[-1].split()
    assert int(words[0]) >= 1 and words[2] == "True", r


# ============================================================================= 20: wrong inputs
def test_20_inputs_that_would_compute_the_wrong_thing(user):
    (user / "cfg.yaml").write_text(TRAIN_CONFIG)
    r = run_py(user, """
        import numpy as np, torch, xarray as xr
        import fx, neurocompare as nc
        from neurocompare.training.config import load_config
        torch.manual_seed(0)
        model = fx.build()
        rng = np.random.default_rng(0)
        raw = rng.integers(0, 256, (4, 12, 12, 3), dtype=np.uint8)  # channel-last uint8, as read from image files
        da = xr.DataArray(raw, dims=("stimulus", "height", "width", "channel"))
        first = np.ascontiguousarray(raw.transpose(0, 3, 1, 2))
        a = nc.extract(model, da, ["fc"], progress=False)["fc"].values
        b = nc.extract(model, raw, ["fc"], progress=False)["fc"].values
        c = nc.extract(model, first, ["fc"], progress=False)["fc"].values
        print("uint8", np.allclose(a, b, atol=1e-6) and np.allclose(a, c, atol=1e-6))
        try:
            nc.gridcells.spike_rate_maps(rng.random((2, 100)), rng.random((100, 3)))
            print("positions accepted")
        except ValueError as err:
            print("positions refused", "transpose" in str(err))
        print("lr", type(load_config("cfg.yaml").optimizer.lr).__name__)
    """)
    assert "uint8 True" in r.out, r  # raw arrays scaled like labelled images, channel-last detected
    assert "positions refused True" in r.out, r
    assert "lr float" in r.out, r


# ============================================================================= 21-22: crafted files
def test_21_external_storage_and_links_are_refused(user):
    (user / "secret.bin").write_bytes(np.arange(8, dtype=np.float64).tobytes())
    r = run_py(user, """
        import h5py, numpy as np, neurocompare as nc
        nc.save(nc.make_responses(np.zeros((4, 2))), "good.nc")
        with h5py.File("external.nc", "w") as f:  # a crafted file: values read from secret.bin
            f.create_dataset("responses", shape=(4, 2), dtype="f8", external=[("secret.bin", 0, 64)])
        with h5py.File("link.nc", "w") as f:
            f["responses"] = h5py.ExternalLink("good.nc", "/responses")
        for name in ("external.nc", "link.nc"):
            try:
                v = nc.load(name)
                print(name, "READ", v.values.ravel()[:3])
            except Exception as err:
                print(name, "REFUSED", err)
    """)
    assert "external.nc REFUSED" in r.out and "link.nc REFUSED" in r.out, r
    assert "self-contained" in r.out, r


def test_22_psychophysics_page_csv_and_pickled_checkpoint(user, tmp_path):
    r = run_py(user, """
        import numpy as np, torch
        try:
            from neurocompare.metamers import export_experiment
        except ImportError:  # before the metamers package
            from neurocompare.psychophysics import export_experiment
        imgs = np.random.default_rng(0).random((2, 3, 8, 8))
        export_experiment(imgs, "page.html", labels=[0, 1],
                          class_names=["<!--<script>", "<img src=x onerror=alert(1)>"], title="__EXPERIMENT__")
        class Payload:
            pass
        torch.save({"model": Payload()}, "pickled.pt")
    """)
    assert r.rc == 0, r
    page = (user / "page.html").read_text()
    script = page[page.index("const EXPERIMENT") :]
    assert "<!--" not in script and "<script>" not in script[: script.index("</script>")]
    assert "<img src=x onerror" not in page  # never markup, wherever the placeholders put it
    assert page.count("<script") == page.count("</script>")
    node = shutil.which("node")
    if node:  # the page's own CSV function on formula-like cells
        start = script.index("function csvField")
        fn = script[start : script.index("\n}\n", start) + 3]
        js = fn + 'console.log(JSON.stringify(["=1+1", "+cmd", "@SUM(A1)", "-2", "plain"].map(csvField).concat([csvField(-2)])));'
        out = subprocess.run([node, "-e", js], capture_output=True, text=True, timeout=60)
        assert json.loads(out.stdout) == ["'=1+1", "'+cmd", "'@SUM(A1)", "'-2", "plain", "-2"], out
    for args in (["list-layers", "--model", "pickled.pt"],):
        c = cli(user, *args)
        assert c.rc != 0 and "pickled" in c.out, c
        assert "weights_only=False" not in c.out and "can still be loaded" not in c.out, c
