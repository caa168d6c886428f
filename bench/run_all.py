"""Run every benchmark against its peer in one command and write the rows as JSON lines.

Usage::

    python bench/run_all.py                      # every bench_*.py, 1 thread on both sides, full size
    python bench/run_all.py --small              # quick sizes
    python bench/run_all.py --only cka rsa       # bench_cka.py and bench_rsa.py
    python bench/run_all.py --threads 2          # both sides at 2 threads
    python bench/run_all.py --gpu                # metric kernels on CUDA (bench_gpu.py); "no GPU" without one
    python bench/run_all.py --table FILE.jsonl   # print the table of a results file, run nothing

The machine's limits (CPU, flags, fp32/fp64/bf16 GEMM rate, copy bandwidth, load average) are
measured at the start and at the end and written as ``kind: "limits"`` lines; every row gets its %
of peak from the better of the two (load from other jobs only lowers a measured limit). Rows are appended to ``bench/results/<date>-<host>.jsonl``
after each bench, so an interrupted run keeps what it finished. Each bench runs in a fresh child
process (``--timeout`` seconds at most); a bench that fails or times out, or a peer whose venv is
missing, gives a row that says so. The contract a bench script follows is in
``bench/README.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import socket
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _harness as h  # noqa: E402

#: benches run only on request (not by a plain run_all)
ON_REQUEST = {"gpu"}
#: scripts in bench/ that are not benchmarks of a workload against a peer
NOT_BENCHES = {"fuzz_numerics"}


def available() -> list[str]:
    """Names of the bench scripts (``bench/bench_<name>.py`` -> ``name``), sorted."""
    return sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py") if p.stem[len("bench_"):] not in NOT_BENCHES)


def load(name: str):
    """Import ``bench/bench_<name>.py`` as a module (by path; bench/ is not a package)."""
    path = HERE / f"bench_{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def run_in_process(name: str, argv: list[str], threads: int) -> list[dict]:
    """The rows of one bench run in this process; a bench without ``run`` or one that raises gives one row saying so."""
    def failed(verdict: str, note: str) -> list[dict]:
        return [h.row(bench=name, case="-", ours=None, precision="-", threads=threads, verdict=verdict, note=note)]

    try:
        mod = load(name)
    except Exception as err:  # noqa: BLE001  (a broken bench must not stop the others)
        return failed("error", f"import failed: {type(err).__name__}: {err}")
    if not hasattr(mod, "run"):
        return failed("not run", f"bench_{name}.py has no run(argv) yet (see bench/README.md); run it alone with main()")
    try:
        rows = mod.run(argv)
    except SystemExit as err:
        return failed("error", f"run({argv}) exited ({err.code}); check the bench's arguments")
    except Exception as err:  # noqa: BLE001
        print(traceback.format_exc(limit=3), file=sys.stderr)
        return failed("error", f"{type(err).__name__}: {err}")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        return failed("error", f"run() returned {type(rows).__name__}; expected a list of row dicts")
    return rows


_CHILD = """
import sys
from pathlib import Path
import _harness as h, run_all
run_all.HERE = Path(sys.argv[1])
h.emit({"rows": run_all.run_in_process(sys.argv[2], sys.argv[4:], int(sys.argv[3]))})
"""


def run_one(name: str, argv: list[str], threads: int, timeout: float | None = None) -> list[dict]:
    """The rows of one bench, run in a fresh child process (isolated memory, crashes and ``timeout`` contained)."""
    out = h.run_peer(sys.executable, _CHILD, [str(HERE), name, str(threads), *argv], threads=threads, timeout=timeout)
    if out.get("status") == "ok":
        return out["rows"]
    verdict = "timeout" if out.get("status") == "timeout" else "error"
    return [h.row(bench=name, case="-", ours=None, precision="-", threads=threads, verdict=verdict,
                  note=f"bench process {out.get('status')}: {str(out.get('detail', ''))[-400:]}")]


def default_output() -> Path:
    return HERE / "results" / f"{time.strftime('%Y-%m-%d', time.gmtime())}-{socket.gethostname()}.jsonl"


def newest_results(folder: Path = HERE / "results") -> Path | None:
    """The most recent results file (by the date in its name, then modification time), or None."""
    files = sorted(folder.glob("*.jsonl"), key=lambda p: (p.name[:10], p.stat().st_mtime))
    return files[-1] if files else None


def main(argv: list[str] | None = None) -> int:
    names = available()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", metavar="NAME", choices=names, help=f"benches to run, of: {' '.join(names)}")
    ap.add_argument("--small", action="store_true", help="quick sizes (each bench's --small)")
    ap.add_argument("--threads", type=int, default=1, help="threads for ours and every peer (default 1)")
    ap.add_argument("--venvs", default="/work/venvs", help="folder of the peers' venvs (bench/peers.sh makes them)")
    ap.add_argument("--gpu", action="store_true", help="also run the metric kernels on CUDA (bench_gpu.py)")
    ap.add_argument("--out", type=Path, default=None, help="JSON-lines file to append to (default bench/results/<date>-<host>.jsonl)")
    ap.add_argument("--timeout", type=float, default=None, metavar="S", help="seconds before a bench is stopped (row: timeout)")
    ap.add_argument("--no-limits", action="store_true", help="skip measuring the machine's limits (no %% of peak)")
    ap.add_argument("--table", type=Path, default=None, metavar="FILE", help="print the table of FILE and exit")
    args = ap.parse_args(argv)
    if args.table is not None:
        if not args.table.exists():
            ap.error(f"--table {args.table}: no such file; results live in {HERE / 'results'}")
        print(h.format_table(h.latest_rows(h.read_rows(args.table))), end="")
        return 0
    if args.threads < 1:
        ap.error(f"--threads must be >= 1; got {args.threads}")
    h.set_threads(args.threads)
    selected = args.only or [n for n in names if n not in ON_REQUEST]
    if args.gpu and "gpu" not in selected:
        selected.append("gpu")
    out = args.out or default_output()
    bench_argv = ["--threads", str(args.threads), "--venvs", str(args.venvs)] + (["--small"] if args.small else [])
    print(f"benches: {' '.join(selected)}; threads {args.threads}; {'small' if args.small else 'full'} sizes; -> {out}")

    limits = None
    if not args.no_limits:
        limits = h.machine_limits(args.threads)
        h.write_rows(out, [{"schema": h.SCHEMA, "kind": "limits", "when": "start", **limits}])
        print(h.format_limits(limits), end="")
    all_rows = []
    for name in selected:
        t0 = time.perf_counter()
        print(f"--- {name} (load {h.loadavg()})", flush=True)
        rows = h.attach_limits(run_one(name, bench_argv, args.threads, args.timeout), limits)
        h.write_rows(out, rows)
        all_rows += rows
        print(h.format_table(rows), end="")
        print(f"    ({time.perf_counter() - t0:.0f} s)", flush=True)
    if limits is not None:
        end = h.machine_limits(args.threads)
        h.write_rows(out, [{"schema": h.SCHEMA, "kind": "limits", "when": "end", **end}])
        print("at the end: " + h.format_limits(end), end="")
        h.relimit_file(out)  # % of peak against the better of the two measurements (load only lowers them)
        h.attach_limits(all_rows, h.best_limits(limits, end), force=True)
    print()
    print(h.format_table(all_rows), end="")
    print(f"rows written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
