#!/usr/bin/env python3
"""Unsorted input: sash against DuckDB and Polars on the benchmark rows shuffled.

What
    The 10M rows of bench/gen_data.py in a random order (numpy
    ``default_rng(SEED).permutation``, one record batch), as events arrive
    from merged sources or late. sash must put them in time order first
    (docs/semantics.md); DuckDB's and Polars' hash aggregations do not care
    about order, and their window functions sort. Cases: the four of the
    main benchmark, with its specs (bench/python_cases.py),
    sash called through the wheel, peers single-threaded (DuckDB threads=1,
    POLARS_MAX_THREADS=1) with the formulations of bench/peers.py that are
    correct on unsorted rows. Every result is checked against the others
    (bench/peers.py's canonical forms), sash's included. Best of 3.

    Writes bench/results-unsorted.md (a table with rows/s and ratios).

How
    .venv/bin/python bench/unsorted.py               # what `make bench` runs
    .venv/bin/python bench/unsorted.py --rows 100000 --no-write
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

os.environ.setdefault("POLARS_MAX_THREADS", "1")  # before polars is imported
os.environ.setdefault("SASH_MAX_THREADS", "1")  # single-threaded comparisons (bench/threads.py scales)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
import pyarrow as pa  # noqa: E402

import gen_data  # noqa: E402
import peers  # noqa: E402
import python_cases  # noqa: E402

SEED = 7
CASES = ("tumbling", "hopping", "rolling", "session")
# Formulations of bench/peers.py whose result does not depend on row order.
ORDER_FREE = {
    ("duckdb", "tumbling"): {"time_bucket", "epoch_div"},
    ("duckdb", "hopping"): {"panes_x_range5", "rows_x_range5"},
    ("duckdb", "rolling"): {"range_window"},
    ("duckdb", "session"): {"lag_cumsum"},
    ("polars", "tumbling"): {"group_by_truncate", "group_by_truncate_streaming", "group_by_combined_key"},
    ("polars", "hopping"): {"panes_explode_streaming", "panes_explode"},
    ("polars", "rolling"): {"rolling_mean_by_over"},
    ("polars", "session"): set(),
}
# sash's output columns under the canonical names of bench/peers.py.
SASH_NAMES = {
    "tumbling": {"window_start": "ws", "count()": "n", "sum(val)": "s", "mean(val)": "mean",
                 "min(val)": "mn", "max(val)": "mx"},
    "hopping": {"window_start": "ws", "count()": "n", "mean(val)": "mean"},
    "rolling": {"mean(val)": "mean"},
    "session": {"window_start": "start", "window_end": "end", "count()": "n", "sum(val)": "s",
                "mean(val)": "mean"},
}


def shuffled(table: pa.Table) -> pa.Table:
    order = np.random.default_rng(SEED).permutation(table.num_rows)
    return table.take(pa.array(order)).combine_chunks()


def polars_session_sorted(df: pl.DataFrame) -> pl.DataFrame:
    """Sort by key and time, then one pass numbering sessions (the main bench's fastest, plus the time sort)."""
    v = pl.col("val")
    s = df.sort("key", "ts")
    new = ((pl.col("key") != pl.col("key").shift()) | (pl.col("ts").diff() >= pl.duration(seconds=30))).fill_null(True)
    return (s.with_columns(new.cum_sum().set_sorted().alias("sid"))
            .group_by("sid").agg(pl.col("key").first(), pl.col("ts").min().alias("start"),
                                 (pl.col("ts").max() + pl.duration(seconds=30)).alias("end"),
                                 pl.len().alias("n"), v.sum().alias("s"), v.mean().alias("mean")))


def formulations(table: pa.Table) -> list[peers.Formulation]:
    df = pl.from_arrow(table)
    forms = [f for f in peers.duckdb_formulations(table, CASES) + peers.polars_formulations(df, CASES)
             if f.name in ORDER_FREE[(f.engine, f.case)]]
    forms.append(peers.Formulation("polars", "session", "sort_key_ts_then_cumsum", lambda: polars_session_sorted(df),
                                   peers._canon_polars("session")))
    import sash

    for case in CASES:
        op, spec = python_cases.CASES[case]
        fn = getattr(sash, op)
        forms.insert(0, peers.Formulation(
            "sash", case, f"sash.{op}", lambda fn=fn, spec=spec: fn(table, **spec),
            lambda res, case=case: peers._canon(case, pl.from_arrow(res.rename_columns(
                [SASH_NAMES[case].get(c, c) for c in res.column_names])))))
    return forms


def run(table: pa.Table, repeats: int = 3, log=print) -> list[peers.Timing]:
    """Times every formulation on `table` (already shuffled); checks they all agree with sash's."""
    return peers.time_formulations(formulations(table), CASES, table.num_rows, repeats, log=log)


def markdown(timings: list[peers.Timing], rows: int) -> str:
    best = peers.best_by_engine(timings)
    lines = [
        "# Unsorted input (`bench/unsorted.py`)",
        "",
        "Output of the last run; regenerate, don't edit.",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} CPUs",
        f"- data: the {rows:,} rows of `bench/gen_data.py` shuffled (seed {SEED}), one record batch;"
        " sash through the wheel, which sorts them by time first; peers single-threaded, their"
        " formulations that are correct on unsorted rows; every result checked against the others",
        "",
        "| case | sash rows/s | DuckDB rows/s | Polars rows/s | sash/DuckDB | sash/Polars |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for case in CASES:
        s, d, p = (best.get((case, e)) for e in ("sash", "duckdb", "polars"))
        ratio = lambda peer: f"{peer.seconds / s.seconds:.2f}×" if peer and s else "—"  # noqa: E731
        rate = lambda t: f"{t.rows_per_s / 1e6:.2f} M" if t else "—"  # noqa: E731
        lines.append(f"| {case} | {rate(s)} | {rate(d)} | {rate(p)} | {ratio(d)} | {ratio(p)} |")
    lines += ["", "| case | engine | formulation | best s | runs s |", "|---|---|---|--:|---|"]
    for t in timings:
        lines.append(f"| {t.case} | {t.engine} | {t.formulation} | {t.seconds:.3f} | "
                     f"{', '.join(f'{r:.3f}' for r in t.runs)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=gen_data.DEFAULT_ROWS, help="rows of data (default 10M)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-write", action="store_true", help="don't write bench/results-unsorted.md")
    args = ap.parse_args(argv)
    table = shuffled(gen_data.load_table(gen_data.ensure_data(args.rows)))
    timings = run(table, args.repeats)
    md = markdown(timings, table.num_rows)
    print(md)
    if not args.no_write:
        (HERE / "results-unsorted.md").write_text(md)
        print(f"wrote {HERE / 'results-unsorted.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
