#!/usr/bin/env python3
"""Scaling: every kernel with 1 and N threads, and against the peers with all theirs.

What
    1. sash's window cases (tumbling, hopping, session, rolling: 10M rows,
       bench/data/windows_10m.arrow) and parse cases (combined, syslog,
       logfmt, json: ``--lines`` synthetic lines each, ~1 GB of combined
       lines by default) with 1 thread and with all N cores: seconds and the
       speedup N-thread over 1-thread (target: >= 1.7x on 2 cores).
    2. The same window cases through DuckDB and Polars with all their
       threads (``SET threads = N``, ``POLARS_MAX_THREADS=N``), and the parse
       cases through Polars and DuckDB regex extraction with all threads:
       sash's N-thread time against theirs.

How
    .venv/bin/python bench/threads.py [--lines 6000000] [--no-write]
    (``make bench-threads``; ``make bench`` runs it too.) Writes bench/results-threads.md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

CORES = os.cpu_count() or 1
# The peers get every core; sash's kernels binary is told its count per run.
os.environ["POLARS_MAX_THREADS"] = str(CORES)
os.environ["BENCH_DUCKDB_THREADS"] = str(CORES)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen_data  # noqa: E402
import peers  # noqa: E402
import run as bench_run  # noqa: E402

WINDOW_CASES = ["tumbling", "hopping", "session", "rolling"]
PARSE_CASES = ["parse_combined", "parse_syslog", "parse_logfmt", "parse_json"]
TARGET_SCALING = 1.7


def kernels(exe: Path, args: list[str]) -> list[dict]:
    out = subprocess.run([str(exe), *args], cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=6_000_000, help="lines per parse case (6M combined lines are ~1 GB)")
    ap.add_argument("--no-write", action="store_true", help="print, do not write bench/results-threads.md")
    args = ap.parse_args(argv)

    data = gen_data.ensure_data(gen_data.DEFAULT_ROWS).resolve()
    exe = bench_run.locate_bench_executable()
    if exe is None:
        raise SystemExit("threads: could not build the kernels benchmark")
    sash: dict[tuple[str, int], dict] = {}
    for threads in (1, CORES):
        for case in WINDOW_CASES:
            for line in kernels(exe, ["--data", str(data), "--case", case, "--threads", str(threads), "--repeats", "9"]):
                sash[(line["case"], threads)] = line
                print(f"  sash {case:9s} {threads} threads {line['seconds']:.3f} s", flush=True)
        parse_dir = ROOT / "bench" / "data" / "threads"
        for case in PARSE_CASES:
            extra = ["--write-data", str(parse_dir)] if threads == CORES else []
            for line in kernels(exe, ["--parse", "--lines", str(args.lines), "--case", case, "--threads", str(threads), *extra]):
                sash[(line["case"], threads)] = line
                print(f"  sash {case:15s} {threads} threads {line['seconds']:.3f} s ({line['mb_per_s']:.0f} MB/s)", flush=True)

    table = gen_data.load_table(data)
    timings = peers.run_peers(table, cases=WINDOW_CASES, engines=("duckdb", "polars"), repeats=3, check=False)
    best = peers.best_by_engine(timings)
    parse_peers = peers.run_parse_peers(str(parse_dir), repeats=2)
    for case in PARSE_CASES:
        path = parse_dir / f"{case}.log"
        if path.exists():
            path.unlink()

    lines = [
        "# Scaling with threads",
        "",
        f"`make bench-threads` (bench/threads.py), this machine: {CORES} cores. sash with 1 and {CORES} threads "
        f"(`sash.set_threads`, the kernels binary's `--threads`); DuckDB and Polars with all {CORES} "
        f"(`SET threads = {CORES}`, `POLARS_MAX_THREADS={CORES}`). Best of 9 for sash's window cases (page faults make single runs vary by a fifth here), "
        f"3 for peers' windows and sash's parses, 2 for the parse peers. "
        f"Target: {CORES} threads >= {TARGET_SCALING}x one thread on every case.",
        "",
        f"| case | sash 1 thread (s) | sash {CORES} threads (s) | speedup | target met | DuckDB {CORES} thr (s) | sash / DuckDB | Polars {CORES} thr (s) | sash / Polars |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for case in WINDOW_CASES + PARSE_CASES:
        one, many = sash.get((case, 1)), sash.get((case, CORES))
        if not one or not many:
            continue
        speedup = one["seconds"] / many["seconds"]
        if case in WINDOW_CASES:
            duck = best.get((case, "duckdb"))
            pol = best.get((case, "polars"))
            duck_s = duck.seconds if duck else None
            pol_s = pol.seconds if pol else None
        else:
            duck_s = parse_peers.get((case, "duckdb"))
            pol_s = parse_peers.get((case, "polars")) or parse_peers.get((case, "pyarrow_threads"))
        cell = lambda s: f"{s:.3f}" if s else "–"  # noqa: E731
        ratio = lambda s: f"{s / many['seconds']:.1f}x" if s else "–"  # noqa: E731
        lines.append(
            f"| {case} | {one['seconds']:.3f} | {many['seconds']:.3f} | {speedup:.2f}x | "
            f"{'yes' if speedup >= TARGET_SCALING else 'no'} | {cell(duck_s)} | {ratio(duck_s)} | {cell(pol_s)} | {ratio(pol_s)} |"
        )
    lines += [
        "",
        "sash / peer: how many times faster sash with all threads is than the peer with all threads. "
        "The parse peers are regex extraction into typed columns (bench/peers.py); for json the Polars "
        "column is pyarrow's JSON reader with its threads.",
        "",
        "Where a case falls short of the target, docs/performance.md gives the measured reason and its share: "
        "the copy of the parts' outputs into one (windows; a tumbling call stays on one thread below four "
        "threads for that reason), page faults on fresh output memory, and the kernels not yet split "
        "(session and rolling run on one thread).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        (ROOT / "bench" / "results-threads.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
