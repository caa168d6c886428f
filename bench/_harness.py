"""Measuring harness shared by every ``bench/bench_*.py`` script and by ``bench/run_all.py``.

Standalone on purpose: it imports only the standard library at module level (numpy and torch
inside the functions that need them), never ``neurocompare``, so a peer library's virtual
environment can load it by path (``run_peer`` puts this folder on the peer's ``PYTHONPATH``) and
measure the peer exactly the way we measure ourselves. The contract is written in
``bench/README.md``.

What is measured, per timed call and nothing else:

- wall seconds (``time.perf_counter``), best and median over ``repeats`` after ``warmup`` calls;
- CPU seconds of the whole process (``time.process_time``: user + system, every thread);
- peak resident memory over the resident memory just before the call. Where the kernel allows
  it (``/proc/self/clear_refs`` accepts ``5``), the high-water mark ``VmHWM`` is reset before each
  call and read after it (exact, catches short spikes); otherwise a thread polls ``VmRSS`` every
  millisecond (can miss spikes shorter than that). The row says which (``memory_method``).
"""

from __future__ import annotations

import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SCHEMA = 1
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NEUROCOMPARE_THREADS")
RESULT_MARK = "@@BENCH-RESULT "
#: the fields of a measurement dict returned by ``timed`` (and by ``run_peer`` on success)
MEASUREMENT_KEYS = ("wall_best", "wall_median", "cpu_best", "cpu_median", "peak_mb", "memory_method", "repeats", "value")
#: the fields of a row, in the order they are written
ROW_KEYS = ("schema", "kind", "bench", "case", "precision", "threads", "peer_name", "peer_status", "ours", "peer",
            "ratio_wall", "ratio_cpu", "target", "verdict", "error_ours", "error_peer", "flops", "bytes",
            "gflops", "pct_gemm_peak", "gbs", "pct_bandwidth", "peak_gflops", "peak_gbs", "loadavg",
            "git_commit", "timestamp", "host", "note")


# ------------------------------------------------------------------------------------ threads
def set_threads(threads: int) -> None:
    """Limit every thread pool of this process to ``threads`` (environment + torch, if loaded).

    The environment variables only reach libraries that have not started their pool yet; torch's
    intra-op pool is set directly. Call it before importing numpy-backed peers.
    """
    if int(threads) < 1:
        raise ValueError(f"threads must be >= 1; got {threads!r}.")
    for var in THREAD_VARS:
        os.environ[var] = str(int(threads))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(int(threads))


def thread_env(threads: int, base: dict | None = None) -> dict:
    """A copy of ``base`` (default ``os.environ``) with every thread-count variable set to ``threads``."""
    env = dict(os.environ if base is None else base)
    for var in THREAD_VARS:
        env[var] = str(int(threads))
    return env


# ------------------------------------------------------------------------------------ memory
def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_hwm() -> bool:
    """Reset this process's ``VmHWM`` to its current RSS; False where the kernel refuses."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class _PeakMemory:
    """Peak RSS over the RSS at entry, in MiB: ``VmHWM`` after a reset, else a polling thread."""

    def __init__(self, poll_s: float = 1e-3):
        self.poll_s = poll_s
        self.peak_mb = float("nan")
        self.method = "none"

    def __enter__(self):
        self.base = _status_kb("VmRSS")
        if self.base is None:
            return self
        if _reset_hwm() and (_status_kb("VmHWM") or 0) <= self.base + 64:
            self.method = "VmHWM"
            return self
        self.method = "VmRSS-poll"
        self._max = self.base
        self._stop = threading.Event()

        def poll():
            while not self._stop.is_set():
                self._max = max(self._max, _status_kb("VmRSS") or 0)
                self._stop.wait(self.poll_s)

        self._thread = threading.Thread(target=poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.method == "VmHWM":
            self.peak_mb = max(0, (_status_kb("VmHWM") or 0) - self.base) / 1024
        elif self.method == "VmRSS-poll":
            self._stop.set()
            self._thread.join()
            self._max = max(self._max, _status_kb("VmRSS") or 0)
            self.peak_mb = max(0, self._max - self.base) / 1024
        return False


# ------------------------------------------------------------------------------------ timing
def _scalar(value):
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out


def timed(fn, repeats: int = 3, warmup: int = 1, memory: bool = True, sync=None) -> dict:
    """Measure ``fn()`` alone: wall and CPU seconds, and peak memory over the baseline.

    Parameters
    ----------
    fn : callable
        Called with no arguments; ``repeats + warmup`` times.
    repeats : int
        Timed calls (>= 1). ``wall_best`` is the fastest, ``cpu_best`` the CPU time of that call.
    warmup : int
        Untimed calls first (imports, caches, lazy kernels).
    memory : bool
        Measure the peak resident memory during each timed call (the largest is reported).
    sync : callable, optional
        Called before reading the clocks (e.g. ``torch.cuda.synchronize`` for GPU work).

    Returns
    -------
    dict
        ``wall_best``, ``wall_median``, ``cpu_best``, ``cpu_median`` (seconds), ``peak_mb`` (MiB
        over the resident memory right before the call; NaN when not measured), ``memory_method``
        (``'VmHWM'``, ``'VmRSS-poll'`` or ``'none'``), ``repeats``, ``value`` (the last return
        value when it is a number, else None).
    """
    if int(repeats) < 1 or int(warmup) < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0; got repeats={repeats!r}, warmup={warmup!r}.")
    sync = sync or (lambda: None)
    result = None
    for _ in range(int(warmup)):
        result = fn()
    sync()
    walls, cpus, peaks, method = [], [], [], "none"
    for _ in range(int(repeats)):
        probe = _PeakMemory() if memory else None
        if probe is not None:
            probe.__enter__()
        c0, t0 = time.process_time(), time.perf_counter()
        result = fn()
        sync()
        t1, c1 = time.perf_counter(), time.process_time()
        if probe is not None:
            probe.__exit__(None, None, None)
            peaks.append(probe.peak_mb)
            method = probe.method
        walls.append(t1 - t0)
        cpus.append(c1 - c0)
    best = min(range(len(walls)), key=walls.__getitem__)
    return {"wall_best": walls[best], "wall_median": statistics.median(walls), "cpu_best": cpus[best],
            "cpu_median": statistics.median(cpus), "peak_mb": max(peaks) if peaks else float("nan"),
            "memory_method": method, "repeats": int(repeats), "value": _scalar(result)}


# ------------------------------------------------------------------------------------ machine
def loadavg() -> list[float]:
    """The 1, 5 and 15 minute load averages (``/proc/loadavg``); empty where unavailable."""
    try:
        return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def cpu_info() -> dict:
    """CPU model, logical cores and the vector-unit flags that bound GEMM speed."""
    model, flags = platform.processor() or "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16", "amx_int8")
    return {"cpu_model": model, "cores": os.cpu_count(), "flags": [f for f in wanted if f in flags]}


def gemm_gflops(dtype: str = "float32", n: int = 2048, repeats: int = 3, device: str = "cpu") -> float:
    """Best measured GEMM rate on ``n x n`` matrices, in GFLOP/s (2 n^3 flops per product).

    ``dtype`` is ``'float32'``, ``'float64'``, ``'bfloat16'`` or, on CUDA, ``'tf32'`` (float32
    inputs with TF32 tensor cores allowed). On the CPU, float32 and float64 take the faster of
    ``torch.mm`` and numpy's BLAS (``numpy.matmul``, its thread pool capped at torch's thread
    count): the kernels use whichever is faster here, so the peak must be the better of the two.
    """
    rate = _torch_gemm_gflops(dtype, n, repeats, device)
    if device == "cpu" and dtype in ("float32", "float64"):
        rate = max(rate, _numpy_gemm_gflops(dtype, n, repeats))
    return rate


def _numpy_gemm_gflops(dtype: str, n: int, repeats: int) -> float:
    import numpy as np
    import torch

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # numpy's pool then follows OMP_NUM_THREADS / OPENBLAS_NUM_THREADS
        m = timed(lambda: np.matmul(a, b), repeats=repeats, warmup=1, memory=False)
    else:
        with threadpool_limits(limits=torch.get_num_threads(), user_api="blas"):
            m = timed(lambda: np.matmul(a, b), repeats=repeats, warmup=1, memory=False)
    return 2.0 * n**3 / m["wall_best"] / 1e9


def _torch_gemm_gflops(dtype: str, n: int, repeats: int, device: str) -> float:
    import torch

    tf32 = dtype == "tf32"
    tdtype = torch.float32 if tf32 else getattr(torch, dtype)
    g = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, generator=g, device=device).to(tdtype)
    b = torch.randn(n, n, generator=g, device=device).to(tdtype)
    sync = torch.cuda.synchronize if device.startswith("cuda") else None
    old = torch.backends.cuda.matmul.allow_tf32 if device.startswith("cuda") else None
    if old is not None:
        torch.backends.cuda.matmul.allow_tf32 = tf32
    try:
        m = timed(lambda: torch.mm(a, b), repeats=repeats, warmup=1, memory=False, sync=sync)
    finally:
        if old is not None:
            torch.backends.cuda.matmul.allow_tf32 = old
    return 2.0 * n**3 / m["wall_best"] / 1e9


def bandwidth_gbs(mib: int = 256, repeats: int = 3) -> float:
    """Best measured memory bandwidth, GB/s: a STREAM-style copy of ``mib`` MiB of float64.

    Counts one read and one write of the array per copy (write-allocate traffic not counted, as
    STREAM does), so it is the rate a streaming kernel can hope for.
    """
    import numpy as np

    n = mib * 2**20 // 8
    b = np.ones(n)
    a = np.empty(n)
    m = timed(lambda: np.copyto(a, b), repeats=repeats, warmup=1, memory=False)
    return 2 * n * 8 / m["wall_best"] / 1e9


def machine_limits(threads: int = 1, gemm_n: int = 2048, repeats: int = 3, bf16: bool = True) -> dict:
    """What this machine can do at ``threads`` threads: the peaks every row's '% of peak' refers to.

    Returns
    -------
    dict
        ``cpu_model``, ``cores``, ``flags``, ``threads``, ``gemm_gflops`` (``{'float32': .., 'float64':
        .., 'bfloat16': ..}``, :func:`gemm_gflops` on ``gemm_n``^2 matrices, best of ``repeats``),
        ``bandwidth_gbs`` (triad), ``loadavg_start``, ``loadavg_end``, ``torch``, ``numpy``,
        ``python``, ``host``, ``timestamp``.
    """
    import numpy as np
    import torch

    load0 = loadavg()
    old = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        dtypes = ["float32", "float64"] + (["bfloat16"] if bf16 else [])
        gemm = {d: gemm_gflops(d, gemm_n, repeats) for d in dtypes}
        bw = bandwidth_gbs(repeats=repeats)
    finally:
        torch.set_num_threads(old)
    return {**cpu_info(), "threads": int(threads), "gemm_gflops": gemm, "bandwidth_gbs": bw,
            "loadavg_start": load0, "loadavg_end": loadavg(), "torch": torch.__version__,
            "numpy": np.__version__, "python": platform.python_version(), "host": socket.gethostname(),
            "timestamp": _now()}


def gpu_limits(n: int = 8192, repeats: int = 5) -> dict | None:
    """The CUDA device's measured fp32 and TF32 GEMM rates (GFLOP/s), or None without CUDA."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    return {"device": torch.cuda.get_device_name(0),
            "gemm_gflops": {d: gemm_gflops(d, n, repeats, device="cuda") for d in ("float32", "tf32", "bfloat16")},
            "timestamp": _now()}


# ------------------------------------------------------------------------------------ peers
def emit(obj) -> None:
    """Print ``obj`` as the result line ``run_peer`` looks for (call it once, at the end of a peer script)."""
    print(RESULT_MARK + json.dumps(obj), flush=True)


def run_peer(python: str | os.PathLike, code: str, args=(), threads: int = 1, timeout: float | None = None,
             env: dict | None = None) -> dict:
    """Run ``code`` with the interpreter ``python`` (a peer's venv) and return what it ``emit``-ted.

    Parameters
    ----------
    python : path
        The interpreter. Missing -> ``{'status': 'missing', ...}`` (never an exception).
    code : str
        Either a path to a ``.py`` file or Python source run with ``-c``. It can ``import _harness``
        (this folder is put on ``PYTHONPATH``), measure with ``timed`` and report with ``emit``.
    args : sequence of str
        Command-line arguments (``sys.argv[1:]`` of the peer).
    threads : int
        Every thread-count variable is set to this for the child, and the child calls
        ``_harness.set_threads`` itself when it imports torch.
    timeout : float, optional
        Seconds before the child is killed (-> ``status='timeout'``).

    Returns
    -------
    dict
        The emitted object (a dict) with ``status='ok'`` added, or ``{'status': 'missing' |
        'failed' | 'timeout', 'detail': ...}``.
    """
    python = str(python)
    if not Path(python).exists():
        return {"status": "missing", "detail": f"interpreter {python} not found (bash bench/peers.sh creates it)"}
    env = thread_env(threads, env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH")) if p)
    env["NEUROCOMPARE_BENCH_THREADS"] = str(int(threads))
    cmd = [python, code] if str(code).endswith(".py") and Path(code).exists() else [python, "-c", code]
    try:
        proc = subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "detail": f"killed after {timeout} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_MARK)]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout)[-1500:]
        return {"status": "failed", "detail": f"exit {proc.returncode}: {tail}"}
    out = json.loads(lines[-1][len(RESULT_MARK):])
    if isinstance(out, dict):
        out.setdefault("status", "ok")
        return out
    return {"status": "ok", "result": out}


def best_of(measurements: list[dict]) -> dict:
    """Combine measurements of the same call from several rounds (e.g. alternating ours and the peer).

    The fastest round gives ``wall_best``/``cpu_best``/``value``; ``wall_median``/``cpu_median``
    are the medians of the rounds' medians, ``peak_mb`` the largest peak, ``repeats`` the total.
    A dict whose ``status`` is not ``'ok'`` is skipped; if none is left, the first one is returned
    (so a missing peer stays a missing peer).
    """
    if not measurements:
        raise ValueError("best_of needs at least one measurement; got an empty list.")
    good = [m for m in measurements if m.get("status", "ok") == "ok"]
    if not good:
        return measurements[0]
    best = dict(min(good, key=lambda m: m["wall_best"]))
    best["wall_median"] = statistics.median(m["wall_median"] for m in good)
    best["cpu_median"] = statistics.median(m["cpu_median"] for m in good)
    peaks = [m["peak_mb"] for m in good if m.get("peak_mb") is not None and m["peak_mb"] == m["peak_mb"]]
    best["peak_mb"] = max(peaks) if peaks else None
    best["repeats"] = sum(m.get("repeats", 0) for m in good)
    best["rounds"] = len(good)
    return best


# ------------------------------------------------------------------------------------ rows
def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def git_commit() -> str | None:
    """The repository's HEAD commit (with ``+dirty`` when bench/ or the library has local changes)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, cwd=REPO,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "neurocompare", "bench"], capture_output=True,
                               text=True, cwd=REPO, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (head + ("+dirty" if dirty else "")) or None


def _peak_for(limits: dict | None, precision: str):
    if not limits:
        return None
    return (limits.get("gemm_gflops") or {}).get(precision)


def row(*, bench: str, case: str, ours: dict | None, peer: dict | None = None, peer_name: str | None = None,
        precision: str, threads: int, error_ours: float | None = None, error_peer: float | None = None,
        flops: float | None = None, bytes: float | None = None, limits: dict | None = None,
        target: float | None = None, verdict: str | None = None, note: str = "") -> dict:
    """One result row with the fixed schema ``ROW_KEYS`` (see ``bench/README.md``).

    Parameters
    ----------
    bench, case : str
        Which script and which workload (``'N=1000 float32'``).
    ours, peer : dict
        Measurements from ``timed`` / ``run_peer``. A peer dict whose ``status`` is not ``'ok'``
        (missing venv, failure) gives a row without ratios whose ``peer_status`` says why.
    precision : str
        The dtype both sides computed in (``'float32'``, ``'float64'``, ``'bfloat16'``).
    error_ours, error_peer : float, optional
        The quality each side reached (final loss, |value - reference| ...); lower is better.
    flops, bytes : float, optional
        Useful work of our call: % of the machine's GEMM peak at ``precision`` and % of its
        bandwidth are computed from them when ``limits`` is given (``run_all`` fills them in later
        otherwise, see ``attach_limits``).
    target : float, optional
        The ratio (peer wall / our wall) the issue asks for; gives ``verdict`` 'met' / 'not met'.
    verdict : str, optional
        Overrides the automatic verdict (e.g. ``'not met: higher error'``).
    """
    peer_status = None
    if peer_name is not None or peer is not None:
        peer_status = (peer or {}).get("status", "ok") if peer is not None else "missing"
    good_peer = peer is not None and peer_status == "ok"
    ratio_wall = ratio_cpu = None
    if good_peer and ours:
        ratio_wall = peer["wall_best"] / ours["wall_best"] if ours["wall_best"] > 0 else None
        if ours.get("cpu_best", 0) > 0 and peer.get("cpu_best") is not None:
            ratio_cpu = peer["cpu_best"] / ours["cpu_best"]
    if verdict is None:
        if ours is None:
            verdict = "error"
        elif target is None:
            verdict = "" if good_peer or peer_name is None else f"peer {peer_status}"
        elif ratio_wall is None:
            verdict = f"peer {peer_status}" if peer_status else "no ratio"
        else:
            verdict = "met" if ratio_wall >= target else "not met"
    out = {k: None for k in ROW_KEYS}
    out.update(schema=SCHEMA, kind="row", bench=bench, case=case, precision=precision, threads=int(threads), peer_name=peer_name,
               peer_status=peer_status, ours=_clean(ours), peer=_clean(peer), ratio_wall=ratio_wall,
               ratio_cpu=ratio_cpu, target=target, verdict=verdict, error_ours=_scalar(error_ours),
               error_peer=_scalar(error_peer), flops=_scalar(flops), bytes=_scalar(bytes), loadavg=loadavg(),
               git_commit=git_commit(), timestamp=_now(), host=socket.gethostname(), note=note)
    return attach_limits([out], limits)[0] if limits else out


def _clean(m):
    if m is None:
        return None
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in m.items()}


def best_limits(*limits: dict | None) -> dict | None:
    """The highest GEMM rate per dtype and the highest bandwidth of several ``machine_limits`` results.

    Load from other jobs only ever lowers a measured limit, so the best of the measurements taken at
    the start and the end of a run is the closest to what the machine can do; % of peak against a
    limit measured under load could exceed 100 %.
    """
    given = [lim for lim in limits if lim]
    if not given:
        return None
    gemm: dict[str, float] = {}
    for lim in given:
        for d, v in (lim.get("gemm_gflops") or {}).items():
            gemm[d] = max(gemm.get(d, 0.0), v)
    return {"gemm_gflops": gemm, "bandwidth_gbs": max(lim.get("bandwidth_gbs") or 0.0 for lim in given) or None}


def attach_limits(rows: list[dict], limits: dict | None, force: bool = False) -> list[dict]:
    """Fill each row's GFLOP/s, GB/s and % of peak from its ``flops``/``bytes`` and ``limits`` (in place)."""
    if not limits:
        return rows
    for r in rows:
        wall = (r.get("ours") or {}).get("wall_best")
        if not wall:
            continue
        peak = _peak_for(limits, r.get("precision"))
        if r.get("flops") and (force or r.get("pct_gemm_peak") is None):
            r["gflops"] = r["flops"] / wall / 1e9
            if peak:
                r["peak_gflops"] = peak
                r["pct_gemm_peak"] = 100 * r["gflops"] / peak
        if r.get("bytes") and (force or r.get("pct_bandwidth") is None):
            r["gbs"] = r["bytes"] / wall / 1e9
            if limits.get("bandwidth_gbs"):
                r["peak_gbs"] = limits["bandwidth_gbs"]
                r["pct_bandwidth"] = 100 * r["gbs"] / limits["bandwidth_gbs"]
    return rows


def relimit_file(path: str | os.PathLike) -> Path:
    """Recompute % of peak of every row from the best limits of its run (the ``limits`` entries around it).

    A run writes a ``start`` limits entry, its rows, then an ``end`` entry; each row's peak becomes
    ``best_limits(start, end)``. Rows that carry their own peak (``bench_gpu``) are left alone.
    """
    path = Path(path)
    rows = read_rows(path)
    start, pending = None, []
    for r in rows:
        if r.get("kind") == "limits" and r.get("when") == "start":
            start, pending = r, []
        elif r.get("kind") == "limits" and r.get("when") == "end":
            attach_limits(pending, best_limits(start, r), force=True)
            start, pending = None, []
        elif r.get("kind", "row") == "row" and r.get("bench") != "gpu":
            pending.append(r)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write("".join(json.dumps(_finite(r), allow_nan=False, default=str) + "\n" for r in rows))
    os.replace(tmp, path)
    return path


def _finite(obj):
    """``obj`` with every NaN / inf float replaced by None (JSON has no NaN)."""
    if isinstance(obj, float):
        return obj if obj == obj and abs(obj) != float("inf") else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def write_rows(path: str | os.PathLike, rows: list[dict]) -> Path:
    """Append ``rows`` as JSON lines to ``path``: the whole file is rewritten to a temp file and renamed.

    Readers never see a half-written line; concurrent writers are not supported (one run_all at a time).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    old = path.read_text() if path.exists() else ""
    if old and not old.endswith("\n"):
        old += "\n"
    text = old + "".join(json.dumps(_finite(r), allow_nan=False, default=str) + "\n" for r in rows)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_rows(path: str | os.PathLike) -> list[dict]:
    """The JSON lines of ``path`` (blank lines skipped); a malformed line raises with its number."""
    rows = []
    for i, line in enumerate(Path(path).read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{i} is not a JSON line ({err}); expected one object per line.") from err
    return rows


# ------------------------------------------------------------------------------------ table
TABLE_COLUMNS = ("workload", "ours", "peer", "ratio wall", "ratio CPU", "target", "verdict", "% of peak", "load")


def _fmt_s(m) -> str:
    if not m or m.get("wall_best") is None:
        return "-"
    w = m["wall_best"]
    return f"{w * 1e3:.1f} ms" if w < 1 else f"{w:.2f} s"


def _fmt_x(x) -> str:
    return "-" if x is None else f"{x:.2f}x"


def table_cells(r: dict) -> list[str]:
    """The cells of one row of the results table, in ``TABLE_COLUMNS`` order."""
    peer = r.get("peer_name") or ""
    if peer:
        peer = f"{peer} {_fmt_s(r.get('peer'))}" if r.get("peer_status") == "ok" else f"{peer}: {r.get('peer_status')}"
    pct = []
    if r.get("pct_gemm_peak") is not None:
        pct.append(f"{r['pct_gemm_peak']:.0f}% GEMM")
    if r.get("pct_bandwidth") is not None:
        pct.append(f"{r['pct_bandwidth']:.0f}% BW")
    load = r.get("loadavg") or []
    target = "-" if r.get("target") is None else f">= {r['target']:g}x"
    workload = f"{r.get('bench')}: {r.get('case')} ({r.get('precision')}, {r.get('threads')} thr)"
    return [workload, _fmt_s(r.get("ours")), peer or "-", _fmt_x(r.get("ratio_wall")), _fmt_x(r.get("ratio_cpu")),
            target, r.get("verdict") or "-", ", ".join(pct) or "-", f"{load[0]:.1f}" if load else "-"]


def latest_rows(rows: list[dict]) -> list[dict]:
    """The ``kind == 'row'`` entries, keeping only the last of each (bench, case, peer, precision, threads).

    A results file that a bench was re-run into keeps its old rows; the table shows the newest, in
    the place where its key first appeared.
    """
    latest: dict[tuple, dict] = {}
    for r in rows:
        if r.get("kind", "row") == "row":
            latest[(r.get("bench"), r.get("case"), r.get("peer_name"), r.get("precision"), r.get("threads"))] = r
    return list(latest.values())


def md_escape(text: str) -> str:
    """``text`` on one line with the characters Markdown/MyST would interpret backslash-escaped ($ is math there)."""
    text = " ".join(str(text).split())
    return "".join("\\" + ch if ch in "\\`*_{}[]<#|~$" else ch for ch in text)


def format_table(rows: list[dict], markdown: bool = False) -> str:
    """The results table (``TABLE_COLUMNS``) of the ``kind == 'row'`` entries of ``rows``.

    ``markdown=True`` gives a pipe table (for the docs page), otherwise aligned plain text.
    Ratios are peer / ours (above 1: ours is faster); '% of peak' is our call's useful GFLOP/s
    over the measured GEMM rate at the row's precision, or its GB/s over the measured bandwidth.
    """
    body = [table_cells(r) for r in rows if r.get("kind", "row") == "row"]
    if markdown:
        esc = [[md_escape(c) for c in cells] for cells in body]
        lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
        return "\n".join(lines + ["| " + " | ".join(c) + " |" for c in esc]) + "\n"
    widths = [max(len(h), *(len(c[i]) for c in body)) if body else len(h) for i, h in enumerate(TABLE_COLUMNS)]
    fmt = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(TABLE_COLUMNS), fmt(["-" * w for w in widths])] + [fmt(c) for c in body]) + "\n"


def format_limits(limits: dict) -> str:
    """One line per measured limit: CPU, flags, GEMM GFLOP/s per dtype, bandwidth, load."""
    gemm = ", ".join(f"{d} {v:.0f}" for d, v in (limits.get("gemm_gflops") or {}).items())
    return (f"{limits.get('cpu_model')} ({limits.get('cores')} logical cores; {' '.join(limits.get('flags') or [])})\n"
            f"GEMM GFLOP/s at {limits.get('threads')} thread(s): {gemm}; copy bandwidth "
            f"{limits.get('bandwidth_gbs', float('nan')):.1f} GB/s; load average {limits.get('loadavg_start')} -> "
            f"{limits.get('loadavg_end')}\n")
