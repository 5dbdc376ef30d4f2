"""Tests of the benchmark harness's pure parts (no cargo, no timing).

    .venv/bin/python -m pytest bench/test_run.py -q
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen_data  # noqa: E402
import run  # noqa: E402

FAKE = """\
   Compiling sash-core v0.1.0 (/work/main/core)
    Finished `bench` profile [optimized] target(s) in 12.3s
     Running benches/kernels.rs (target/release/deps/kernels-0123456789abcdef)
{"baseline_rss_bytes": 2400000, "loaded_rss_bytes": 203000000, "threads": 1}
loading /work/bench/data/windows_10m.arrow: 10000000 rows
{"case": "tumbling", "rows": 10000000, "seconds": 0.05, "output_rows": 1666543, "output_bytes": 66661720}
{"case": "hopping", "rows": 10000000, "seconds": 0.20, "output_rows": 8332715}
{"case": "hopping", "rows": 10000000, "seconds": 0.10}
{not json at all
[1, 2, 3]
{"case": "rolling", "rows": 10000000, "seconds": 0.3, "output_rows": 10000000}
{"case": "session", "rows": 10000000, "seconds": 0.08, "output_rows": 520000}
tumbling: 200.0 M rows/s
"""


def test_parse_rust_output_cases_and_meta():
    out = run.parse_rust_output(FAKE)
    assert sorted(out.cases) == ["hopping", "rolling", "session", "tumbling"]
    assert out.cases["tumbling"]["seconds"] == 0.05
    assert out.cases["tumbling"]["output_rows"] == 1666543
    assert out.meta == {"baseline_rss_bytes": 2400000, "loaded_rss_bytes": 203000000, "threads": 1}
    # case fields win over run-wide ones; run-wide ones fill in
    assert out.get("tumbling", "output_bytes") == 66661720
    assert out.get("tumbling", "baseline_rss_bytes") == 2400000
    assert out.get("rolling", "output_bytes") is None


def test_parse_rust_output_keeps_fastest_and_merges_fields():
    hop = run.parse_rust_output(FAKE).cases["hopping"]
    assert hop["seconds"] == 0.10
    assert hop["output_rows"] == 8332715  # from the slower line


def test_parse_rust_output_once_mode_line():
    line = ('{"case": "tumbling", "rows": 100, "seconds": 0.001, "output_rows": 17, '
            '"output_bytes": 680, "baseline_rss_bytes": 1000, "loaded_rss_bytes": 3000}\n')
    out = run.parse_rust_output(line)
    assert out.get("tumbling", "loaded_rss_bytes") == 3000
    assert out.meta == {}


def test_parse_rust_output_empty_and_noise():
    assert run.parse_rust_output("").cases == {}
    assert run.parse_rust_output("warning: unused\n\n  {bad\n").cases == {}


@pytest.mark.parametrize("line", [
    '{"case": "tumbling", "seconds": 0.1}',
    '{"case": "tumbling", "rows": 10, "seconds": 0}',
    '{"case": "tumbling", "rows": "10", "seconds": 0.1}',
    '{"case": "tumbling", "rows": 10}',
])
def test_parse_rust_output_rejects_broken_case_lines(line):
    with pytest.raises(ValueError):
        run.parse_rust_output(line)


def test_results_table_targets_and_ratios():
    rates = {
        "tumbling": {"sash": 200e6, "duckdb": 10e6, "polars": 20e6, "pandas": 5e6},
        "rolling": {"sash": 50e6, "duckdb": 3e6, "polars": 10e6, "pandas": None},
        "session": {"sash": None, "duckdb": 3e6, "polars": 10e6, "pandas": None},
    }
    md = run.results_table(rates).splitlines()
    assert md[0].startswith("| case | sash rows/s | DuckDB rows/s | Polars rows/s | pandas rows/s")
    assert md[2] == ("| tumbling | 200.00 M | 10.00 M | 20.00 M | 5.00 M | 20.00× | 10.00× "
                     "| ≥10× DuckDB | yes |")
    assert md[3].endswith("| 16.67× | 5.00× | ≥10× Polars | no |")
    assert md[4].endswith("| — | — | ≥10× DuckDB | n/a |")


def test_floor_md_caps_the_ratio_to_polars():
    rates = {"rolling": {"sash": 50e6, "duckdb": 3e6, "polars": 15e6, "pandas": None}}
    text = run.floor_md({"case": "rolling_floor", "rows": 10_000_000, "seconds": 0.1}, rates)
    assert "0.1000 s, 100.00 M rows/s" in text
    assert "more than **6.7×** here (target ≥10×)" in text
    assert text.endswith("the kernel runs at 0.50 of the floor's speed.")
    assert run.floor_md(None, rates) is None
    assert run.floor_md({"rows": 1, "seconds": 1.0}, {"rolling": {"sash": 1.0, "polars": None}}) is None


def test_memcheck_overhead():
    m = run.MemCheck("tumbling", peak=400_000_000, baseline=50_000_000, loaded=250_000_000,
                     input_bytes=200_000_000, output_bytes=50_000_000)
    assert m.used == 350_000_000 and m.expected == 250_000_000
    assert m.overhead_pct == pytest.approx(40.0)
    assert "overhead +40.0%" in m.line()
    assert "no check" in run.MemCheck("x", 1, None, None, 1, None).line()


def test_gen_data_deterministic_and_shaped(tmp_path):
    a, b = gen_data.make_table(1000), gen_data.make_table(1000)
    assert a.equals(b)
    ts = a["ts"].to_numpy().astype("int64")
    steps = ts[1:] - ts[:-1]
    assert str(a.schema.field("ts").type) == "timestamp[ms]"
    assert ts[0] == 1704067200000  # 2024-01-01T00:00:00Z
    assert steps.min() >= 5 and steps.max() <= 15
    key = a["key"].to_numpy()
    assert key.dtype.name == "int32" and key.min() >= 0 and key.max() < 1000
    p = gen_data.ensure_data(1000, data_dir=tmp_path, quiet=True)
    assert p.name == "windows_1k.arrow" and gen_data.file_is_valid(p, 1000)
    assert not gen_data.file_is_valid(p, 999)
    assert gen_data.load_table(p).equals(a)
    assert gen_data.rows_label(10_000_000) == "10m" and gen_data.rows_label(1234) == "1234"


FAKE_CARGO = r'''#!{python}
"""Stands in for `cargo bench -p sash-core --bench kernels ...` and the built binary."""
import json, os, sys
args = sys.argv[1:]
if "--no-run" in args:  # cargo: report where the executable is
    print(json.dumps({{"reason": "compiler-artifact", "target": {{"name": "kernels", "kind": ["bench"]}},
                      "executable": os.path.abspath(__file__)}}))
    sys.exit(0)
if "--" in args:  # cargo bench -- ARGS: cargo appends --bench
    args = args[args.index("--") + 1:] + ["--bench"]
data = args[args.index("--data") + 1]
assert os.path.exists(data), data
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) * 1024
print("human readable noise")
base = rss()
if "--once" in args:
    case = args[args.index("--case") + 1]
    blob = bytearray(64 * 1024 * 1024)  # touch 64 MiB so the peak is visible
    blob[::4096] = b"x" * len(blob[::4096])
    print(json.dumps({{"case": case, "rows": 2000, "seconds": 0.001, "output_rows": 10,
                      "output_bytes": 1000, "baseline_rss_bytes": base, "loaded_rss_bytes": rss()}}))
else:
    print(json.dumps({{"baseline_rss_bytes": base}}))
    for c in ("tumbling", "hopping", "rolling", "session"):
        print(json.dumps({{"case": c, "rows": 2000, "seconds": 0.0001, "output_rows": 10}}))
'''


def test_end_to_end_with_fake_cargo(tmp_path, monkeypatch, capsys):
    fake = tmp_path / "fake_cargo.py"
    fake.write_text(FAKE_CARGO.format(python=sys.executable))
    fake.chmod(0o755)
    monkeypatch.setattr(run, "CARGO_BENCH", [str(fake), "bench", "-p", "sash-core", "--bench", "kernels"])
    assert run.locate_bench_executable() == fake
    assert run.main(["--rows", "2000", "--cases", "tumbling", "--repeats", "1", "--no-write"]) == 0
    out = capsys.readouterr().out
    row = next(l for l in out.splitlines() if l.startswith("| tumbling |"))
    assert row.split("|")[2].strip() == "20.00 M"  # 2000 rows / 0.0001 s
    assert row.rstrip().endswith("| ≥10× DuckDB | yes |") or row.rstrip().endswith("| no |")
    mem = next(l for l in out.splitlines() if l.startswith("memory: tumbling: peak - baseline"))
    peak_minus_base = float(mem.split("= ")[1].split(" MB")[0].replace(",", ""))
    assert peak_minus_base > 60  # the 64 MiB the fake touched


def test_parse_report_keeps_each_sides_fastest_run():
    import parse_report

    runs = [{"case": "c", "engine": "polars", "seconds": 2.0}, {"case": "c", "engine": "polars", "seconds": 1.0},
            {"case": "c", "engine": "duckdb", "seconds": 3.0}, {"case": "d", "engine": "polars", "seconds": 4.0}]
    best = parse_report.fastest(runs, lambda r: (r["case"], r["engine"]))
    assert {k: r["seconds"] for k, r in best.items()} == {("c", "polars"): 1.0, ("c", "duckdb"): 3.0, ("d", "polars"): 4.0}


def test_exact_sum_md_compares_the_added_cost_with_the_tumbling_case():
    exact = {"case": "exact_sum_floor", "rows": 10_000_000, "windows": 1_667_000,
             "plain_seconds": 0.02, "exact_seconds": 0.10, "seconds": 0.08}
    text = run.exact_sum_md(exact, 0.1)
    assert "**+80%**" in text and "above the 10%" in text
    assert "within the 10%" in run.exact_sum_md({**exact, "seconds": 0.005}, 0.1)
    assert run.exact_sum_md(None, 0.1) is None
    assert run.exact_sum_md(exact, None) is None


def test_streaming_md_reports_each_window_case_against_batch():
    cases = {
        "tumbling": {"rows": 1000, "seconds": 1.0},
        "stream_tumbling_8192": {"rows": 1000, "seconds": 1.25},
        "stream_tumbling_1000": {"rows": 1000, "seconds": 2.0},
        "session": {"rows": 1000, "seconds": 1.0},
        "stream_session_8192": {"rows": 1000, "seconds": 2.0},
    }
    text = run.streaming_md(cases)
    tumbling = next(line for line in text.splitlines() if line.startswith("| tumbling"))
    assert "(80%)" in tumbling and "(50%)" in tumbling and tumbling.endswith("| – | yes |")
    session = next(line for line in text.splitlines() if line.startswith("| session"))
    assert "(50%)" in session and session.endswith("| **no** |")
    assert run.streaming_md({"tumbling": {"rows": 1, "seconds": 1.0}}) is None


def test_streaming_md_reports_snapshot_speed_and_memory_against_their_targets():
    cases = {
        "rolling": {"rows": 1000, "seconds": 1.0},
        "stream_rolling_8192": {"rows": 1000, "seconds": 1.0},
        "stream_snapshot": {"open_states": 1_000_000, "state_bytes": 40_000_000, "snapshot_bytes": 50_000_000,
                            "snapshot_seconds": 0.05, "restore_seconds": 0.2, "snapshot_mb_per_s": 1000.0,
                            "restore_mb_per_s": 250.0},
        "stream_rss_100m": {"rows": 100_000_000, "rows_per_s": 5e7, "peak_over_baseline_bytes": 10 * 2**20},
    }
    text = run.streaming_md(cases)
    assert next(line for line in text.splitlines() if line.startswith("| rolling")).endswith("| yes |")
    state = next(line for line in text.splitlines() if line.startswith("State:"))
    assert "1,000,000 open" in state and "1.25×" in state and "(250 MB/s)" in state and state.endswith("**no**.")
    memory = next(line for line in text.splitlines() if line.startswith("Memory:"))
    assert "100M rows" in memory and "10.0 MiB" in memory and memory.endswith("yes.")


def test_parse_rust_output_takes_the_snapshot_line_as_the_binary_prints_it():
    """The snapshot case counts states, not rows: its line, exactly as
    core/benches/kernels.rs prints it, parses (it once stopped make bench)."""
    line = ('{"case": "stream_snapshot", "open_states": 981637, "state_bytes": 54977720, "snapshot_bytes": 58901163, '
            '"snapshot_seconds": 0.212664, "restore_seconds": 0.261866, "snapshot_mb_per_s": 277.0, '
            '"restore_mb_per_s": 224.9, "seconds": 0.474530}')
    out = run.parse_rust_output(line)
    assert out.cases["stream_snapshot"]["open_states"] == 981637
    with pytest.raises(ValueError):
        run.parse_rust_output('{"case": "stream_tumbling_8192", "seconds": 0.5}')
