"""The benchmark harness (bench/_harness.py), run_all's plumbing and the docs performance table.

Fast: nothing here times a real workload. Memory and CPU checks use allocations and loops whose
size is known, with tolerances wide enough for a shared 2-core machine but narrow enough that a
wrong measurement (the wrong unit, memory counted outside the call, CPU time of another call) fails.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


sys.path.insert(0, str(REPO / "bench"))
h = _load("_harness", REPO / "bench" / "_harness.py")
run_all = _load("bench_run_all", REPO / "bench" / "run_all.py")
bench_gpu = _load("bench_gpu", REPO / "bench" / "bench_gpu.py")
perf = _load("docs_performance", REPO / "docs" / "_performance.py")

MIB = 2**20


# ----------------------------------------------------------------------------- timed
def test_timed_counts_calls_and_orders_statistics():
    calls = []
    m = h.timed(lambda: calls.append(1) or 2.5, repeats=4, warmup=2, memory=False)
    assert len(calls) == 6
    assert set(h.MEASUREMENT_KEYS) == set(m)
    assert m["repeats"] == 4 and m["value"] == 2.5
    assert 0 <= m["wall_best"] <= m["wall_median"]
    assert m["memory_method"] == "none" and math.isnan(m["peak_mb"])


def test_timed_non_numeric_result_has_no_value():
    assert h.timed(lambda: "text", repeats=1, warmup=0, memory=False)["value"] is None


def test_timed_wall_and_cpu_of_a_sleep_and_of_a_busy_loop():
    sleep = h.timed(lambda: time.sleep(0.05), repeats=2, warmup=0, memory=False)
    assert 0.05 <= sleep["wall_best"] < 0.5
    assert sleep["cpu_best"] < 0.02  # sleeping costs (almost) no CPU

    def busy():
        end = time.process_time() + 0.05
        while time.process_time() < end:
            pass

    spin = h.timed(busy, repeats=2, warmup=0, memory=False)
    assert 0.05 <= spin["cpu_best"] < 0.07  # process_time granularity is far below 20 ms
    assert spin["wall_best"] >= spin["cpu_best"] * 0.99


def test_timed_peak_memory_is_the_allocation_inside_the_call():
    outside = np.ones(20 * MIB // 8)  # resident before the call: must not be counted  # noqa: F841
    size = 64 * MIB

    def alloc():
        a = np.ones(size // 8)  # touched: resident
        return float(a[-1])

    m = h.timed(alloc, repeats=2, warmup=1)
    assert m["memory_method"] in ("VmHWM", "VmRSS-poll")
    # 64 MiB of float64 plus interpreter noise; a polling thread may miss a little of a short spike
    lo = 0.5 * 64 if m["memory_method"] == "VmRSS-poll" else 0.95 * 64
    assert lo <= m["peak_mb"] <= 64 + 8
    idle = h.timed(lambda: 1.0, repeats=2, warmup=1)
    assert idle["peak_mb"] < 4  # the 20 MiB array allocated before is not in the peak


def test_timed_refuses_bad_counts():
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        h.timed(lambda: None, repeats=0)
    with pytest.raises(ValueError, match="warmup >= 0"):
        h.timed(lambda: None, warmup=-1)


def test_set_threads_sets_every_variable_and_refuses_zero(monkeypatch):
    for var in h.THREAD_VARS:
        monkeypatch.setenv(var, "7")
    import torch

    before = torch.get_num_threads()
    try:
        h.set_threads(1)
        assert all(h.os.environ[v] == "1" for v in h.THREAD_VARS)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="threads must be >= 1"):
        h.set_threads(0)


# ----------------------------------------------------------------------------- machine
def test_machine_measurements_are_finite_and_consistent():
    info = h.cpu_info()
    assert info["cores"] >= 1 and isinstance(info["cpu_model"], str)
    assert set(info["flags"]) <= {"avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16", "amx_int8"}
    g = h.gemm_gflops("float32", n=256, repeats=2)
    assert math.isfinite(g) and 0.1 < g < 1e5
    bw = h.bandwidth_gbs(mib=16, repeats=2)
    assert math.isfinite(bw) and 0.05 < bw < 1e4
    load = h.loadavg()
    assert len(load) == 3 and all(v >= 0 for v in load)


def test_gpu_limits_without_cuda_is_none():
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA present: gpu_limits measures the device")
    assert h.gpu_limits() is None


# ----------------------------------------------------------------------------- peers
def test_run_peer_measures_in_a_child_with_equal_threads():
    code = ("import os, _harness as h; m = h.timed(lambda: 3.0, repeats=2, warmup=0); "
            "h.emit({**m, 'omp': os.environ['OMP_NUM_THREADS'], 'bench': os.environ['NEUROCOMPARE_BENCH_THREADS']})")
    out = h.run_peer(sys.executable, code, threads=3)
    assert out["status"] == "ok" and out["value"] == 3.0 and out["repeats"] == 2
    assert out["omp"] == "3" and out["bench"] == "3"


def test_run_peer_passes_arguments_to_a_script(tmp_path):
    script = tmp_path / "peer.py"
    script.write_text("import sys, _harness as h\nh.emit({'args': sys.argv[1:]})\n")
    assert h.run_peer(sys.executable, str(script), ["a", 2])["args"] == ["a", "2"]


def test_run_peer_reports_missing_failed_and_timeout(tmp_path):
    missing = h.run_peer(tmp_path / "nope" / "python", "pass")
    assert missing["status"] == "missing" and "peers.sh" in missing["detail"]
    failed = h.run_peer(sys.executable, "raise SystemExit('boom')")
    assert failed["status"] == "failed" and "boom" in failed["detail"]
    silent = h.run_peer(sys.executable, "print('no result line')")
    assert silent["status"] == "failed"
    slow = h.run_peer(sys.executable, "import time; time.sleep(5)", timeout=0.5)
    assert slow["status"] == "timeout"


# ----------------------------------------------------------------------------- rows
def _m(wall, cpu=None, value=None):
    return {"wall_best": wall, "wall_median": wall, "cpu_best": wall if cpu is None else cpu, "cpu_median": wall,
            "peak_mb": 1.0, "memory_method": "VmHWM", "repeats": 1, "value": value}


LIMITS = {"gemm_gflops": {"float32": 4.0, "float64": 2.0}, "bandwidth_gbs": 10.0}


def test_row_ratios_verdict_and_percent_of_peak():
    r = h.row(bench="b", case="c", ours=_m(0.5, 0.25), peer={**_m(2.0, 1.0), "status": "ok"}, peer_name="p",
              precision="float32", threads=1, flops=1e9, bytes=2.5e9, target=3.0, limits=LIMITS)
    assert list(r) == list(h.ROW_KEYS)
    assert r["kind"] == "row" and r["schema"] == h.SCHEMA
    assert r["ratio_wall"] == pytest.approx(4.0) and r["ratio_cpu"] == pytest.approx(4.0)
    assert r["verdict"] == "met"
    assert r["gflops"] == pytest.approx(2.0) and r["pct_gemm_peak"] == pytest.approx(50.0)  # 2 of 4 GFLOP/s
    assert r["gbs"] == pytest.approx(5.0) and r["pct_bandwidth"] == pytest.approx(50.0)  # 5 of 10 GB/s
    slower = h.row(bench="b", case="c", ours=_m(1.0), peer={**_m(2.0), "status": "ok"}, peer_name="p",
                   precision="float64", threads=1, flops=1e9, target=3.0, limits=LIMITS)
    assert slower["verdict"] == "not met" and slower["pct_gemm_peak"] == pytest.approx(50.0)  # 1 of 2 GFLOP/s


def test_row_with_missing_or_failed_peer_has_no_ratio():
    for status in ("missing", "failed", "timeout"):
        r = h.row(bench="b", case="c", ours=_m(1.0), peer={"status": status, "detail": "x"}, peer_name="p",
                  precision="float32", threads=1, target=2.0)
        assert r["ratio_wall"] is None and r["peer_status"] == status and r["verdict"] == f"peer {status}"
    alone = h.row(bench="b", case="c", ours=_m(1.0), precision="float32", threads=1)
    assert alone["peer_status"] is None and alone["verdict"] == "" and alone["pct_gemm_peak"] is None
    broken = h.row(bench="b", case="c", ours=None, precision="-", threads=1)
    assert broken["verdict"] == "error"


def test_write_rows_appends_json_lines_and_maps_nan_to_null(tmp_path):
    path = tmp_path / "sub" / "r.jsonl"
    h.write_rows(path, [{"a": 1.0, "b": float("nan")}])
    h.write_rows(path, [{"a": 2, "c": [float("inf"), 1]}])
    lines = path.read_text().splitlines()
    assert [json.loads(x) for x in lines] == [{"a": 1.0, "b": None}, {"a": 2, "c": [None, 1]}]
    assert h.read_rows(path) == [{"a": 1.0, "b": None}, {"a": 2, "c": [None, 1]}]
    assert not list(path.parent.glob("*.tmp"))
    path.write_text('{"a": 1}\n{broken\n')
    with pytest.raises(ValueError, match=r"r.jsonl:2 is not a JSON line"):
        h.read_rows(path)


def test_format_table_plain_and_markdown():
    r = h.row(bench="cka", case="N=10", ours=_m(0.5), peer={**_m(1.5), "status": "ok"}, peer_name="pp",
              precision="float32", threads=1, flops=1e9, target=2.0, limits=LIMITS)
    r["loadavg"] = [1.25, 1.0, 1.0]
    cells = h.table_cells(r)
    assert cells == ["cka: N=10 (float32, 1 thr)", "500.0 ms", "pp 1.50 s", "3.00x", "3.00x", ">= 2x", "met", "50% GEMM", "1.2"]
    md = h.format_table([r, {"kind": "limits"}], markdown=True).splitlines()
    assert md[0] == "| " + " | ".join(h.TABLE_COLUMNS) + " |" and len(md) == 3  # limits entries are not rows
    assert h.md_escape("a|b $x$ `c`\n*d* e_f") == "a\\|b \\$x\\$ \\`c\\` \\*d\\* e\\_f"
    text = h.format_table([r]).splitlines()
    assert text[0].startswith("workload") and "3.00x" in text[2]


# ----------------------------------------------------------------------------- run_all
def test_run_all_runs_benches_and_reports_broken_ones(tmp_path, monkeypatch, capsys):
    (tmp_path / "bench_good.py").write_text(
        "import _harness as h\n"
        "def run(argv):\n"
        "    assert argv[:2] == ['--threads', '1'] and '--small' in argv\n"
        "    return [h.row(bench='good', case='c', ours=h.timed(lambda: 1.0, repeats=1, warmup=0), precision='float32', threads=1)]\n")
    (tmp_path / "bench_broken.py").write_text("def run(argv):\n    raise RuntimeError('kaputt')\n")
    (tmp_path / "bench_old.py").write_text("def main():\n    pass\n")
    (tmp_path / "bench_gpu.py").write_text("def run(argv):\n    raise AssertionError('on request only')\n")
    (tmp_path / "bench_crash.py").write_text("import os\ndef run(argv):\n    os._exit(3)\n")
    (tmp_path / "bench_hang.py").write_text("import time\ndef run(argv):\n    time.sleep(30)\n")
    monkeypatch.setattr(run_all, "HERE", tmp_path)
    out = tmp_path / "res.jsonl"
    assert run_all.main(["--small", "--no-limits", "--timeout", "5", "--out", str(out)]) == 0
    rows = {r["bench"]: r for r in h.read_rows(out)}
    assert set(rows) == {"good", "broken", "old", "crash", "hang"}  # gpu runs only with --gpu
    assert rows["crash"]["verdict"] == "error" and "exit 3" in rows["crash"]["note"]
    assert rows["hang"]["verdict"] == "timeout"
    assert rows["good"]["ours"]["value"] == 1.0
    assert rows["broken"]["verdict"] == "error" and "kaputt" in rows["broken"]["note"]
    assert rows["old"]["verdict"] == "not run"
    assert run_all.main(["--table", str(out)]) == 0
    assert "good: c" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        run_all.main(["--only", "nonexistent"])
    with pytest.raises(SystemExit):
        run_all.main(["--threads", "0", "--no-limits", "--out", str(out)])


# ----------------------------------------------------------------------------- docs page
def test_docs_table_renders_from_the_newest_rows_file(tmp_path):
    row = h.row(bench="cka", case="N=10", ours=_m(0.5), peer={**_m(1.5), "status": "ok"}, peer_name="pp",
                precision="float32", threads=1, flops=1e9, target=2.0, limits=LIMITS, note="a note")
    limits = {"schema": 1, "kind": "limits", "when": "start", "cpu_model": "TestCPU", "cores": 2, "flags": ["avx2"],
              "threads": 1, "gemm_gflops": {"float32": 4.0}, "bandwidth_gbs": 10.0, "loadavg_start": [1, 1, 1],
              "loadavg_end": [1, 1, 1]}
    h.write_rows(tmp_path / "2026-01-01-old.jsonl", [{**row, "case": "OLD"}])
    h.write_rows(tmp_path / "2026-02-01-new.jsonl", [limits, row])
    assert perf.newest(tmp_path).name == "2026-02-01-new.jsonl"
    out = perf.write_table(tmp_path, tmp_path / "gen" / "table.txt")
    text = out.read_text()
    assert "TestCPU" in text and "float32 4" in text and "OLD" not in text
    assert "| cka: N=10 (float32, 1 thr) | 500.0 ms | pp 1.50 s | 3.00x | 3.00x | >= 2x | met | 50% GEMM |" in text
    assert "a note" in text
    assert "No results" in perf.render(perf.newest(tmp_path / "empty"))


def test_docs_page_includes_the_generated_table():
    page = (REPO / "docs" / "performance.md").read_text()
    assert "_generated/performance_table.txt" in page
    assert perf.OUTPUT == REPO / "docs" / "_generated" / "performance_table.txt"


# ----------------------------------------------------------------------------- bench_gpu (CPU paths)
def test_bench_gpu_without_cuda_says_no_gpu():
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    (r,) = bench_gpu.run(["--small"])
    assert r["verdict"] == "no GPU" and r["ours"] is None


def test_bench_gpu_code_path_on_cpu_gives_percent_of_peak():
    rows = bench_gpu.run(["--small", "--device", "cpu", "--repeats", "1", "--kernels", "rdm"])
    assert [r["case"].split(",")[0] for r in rows] == ["rdm correlation"]
    r = rows[0]
    assert r["flops"] == 1024 * 1024 * 1024
    assert r["gflops"] == pytest.approx(r["flops"] / r["ours"]["wall_best"] / 1e9)
    assert r["pct_gemm_peak"] == pytest.approx(100 * r["gflops"] / r["peak_gflops"])
    assert r["verdict"] == ("met" if r["pct_gemm_peak"] >= 50 else "not met")


def test_best_of_keeps_the_fastest_round_and_skips_failures():
    a = {**_m(2.0, 1.5, value=1.0), "peak_mb": 10.0, "repeats": 2}
    b = {**_m(1.0, 0.8, value=2.0), "peak_mb": 30.0, "repeats": 2, "wall_median": 3.0}
    c = {"status": "failed", "detail": "x"}
    m = h.best_of([a, c, b])
    assert m["wall_best"] == 1.0 and m["cpu_best"] == 0.8 and m["value"] == 2.0
    assert m["wall_median"] == pytest.approx(2.5) and m["peak_mb"] == 30.0
    assert m["repeats"] == 4 and m["rounds"] == 2
    assert h.best_of([c]) is c
    with pytest.raises(ValueError, match="at least one"):
        h.best_of([])


def test_latest_rows_keeps_the_newest_of_each_workload_in_first_place():
    rows = [{"kind": "limits"}, {"bench": "a", "case": "1", "v": 1}, {"bench": "b", "case": "1", "v": 2},
            {"bench": "a", "case": "1", "v": 3}, {"bench": "a", "case": "1", "peer_name": "p", "v": 4}]
    assert [r["v"] for r in h.latest_rows(rows)] == [3, 2, 4]


def test_percent_of_peak_uses_the_best_limits_of_each_run(tmp_path):
    start = {"kind": "limits", "when": "start", "gemm_gflops": {"float32": 2.0}, "bandwidth_gbs": 5.0}
    end = {"kind": "limits", "when": "end", "gemm_gflops": {"float32": 4.0}, "bandwidth_gbs": 4.0}
    r = h.row(bench="b", case="c", ours=_m(0.5), precision="float32", threads=1, flops=1e9, bytes=1e9,
              limits=h.best_limits(start))
    assert r["pct_gemm_peak"] == pytest.approx(100.0)  # 2 GFLOP/s against the loaded start measurement
    path = h.write_rows(tmp_path / "r.jsonl", [start, r, end])
    rows = h.read_rows(h.relimit_file(path))
    assert rows[1]["pct_gemm_peak"] == pytest.approx(50.0) and rows[1]["peak_gflops"] == 4.0
    assert rows[1]["pct_bandwidth"] == pytest.approx(40.0)  # 2 GB/s of the best 5 GB/s
    assert h.best_limits(None) is None
