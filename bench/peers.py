#!/usr/bin/env python3
"""Peer engines for the sash benchmark: DuckDB, Polars and pandas on the same cases.

What
    For each case, one or more *formulations* per engine (different ways to
    write the same query). Each formulation is timed best-of-N (default 3)
    by wall clock; data loading is excluded (the Arrow table is read once and
    handed to DuckDB zero-copy / converted to Polars and pandas up front) and
    materializing the full result is included (DuckDB results are fetched as
    an Arrow table, Polars and pandas results are eager DataFrames). The
    engine's number for a case is its fastest formulation (a formulation
    whose first run is over 3x slower than its engine's best so far is not
    repeated: it cannot win). With ``check`` on,
    all formulations of a case are compared with each other (across engines
    too) on a canonical form, so a "fast" formulation cannot be a wrong one.

    Cases (sash semantics in docs/semantics.md):

    tumbling  1 min windows by key: count, sum, mean, min, max of val
    hopping   5 min windows every 1 min by key: count, mean of val
    rolling   5 min rolling mean of val by key, one output row per input row
    session   30 s gap sessions by key: start, end (= last ts + 30 s), count, sum, mean

    Single-threaded: DuckDB runs with ``SET threads = 1`` and this module sets
    ``POLARS_MAX_THREADS=1`` before importing Polars (unless already set);
    pandas is single-threaded anyway.

    Notes on formulations
    * Polars ``group_by_dynamic`` with ``period > every`` starts the first
      window of each key at the truncated first time, dropping the windows
      that begin before the data; ``offset="-4m"`` restores them (checked
      against DuckDB).
    * DuckDB's rolling frame is written ``INTERVAL 299999 ms PRECEDING``: on
      whole-millisecond data ``[t - 299999 ms, t]`` is exactly sash's and
      Polars' ``(t - 5 min, t]``, at the same cost as ``INTERVAL 5 minutes``.

How
    .venv/bin/python bench/peers.py                          # 10M rows, all cases
    .venv/bin/python bench/peers.py --rows 100000 --cases tumbling,session
    .venv/bin/python bench/peers.py --no-check --repeats 1   # quicker

    ``bench/run.py`` imports :func:`run_peers`.
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

os.environ.setdefault("POLARS_MAX_THREADS", "1")
os.environ.setdefault("SASH_MAX_THREADS", "1")  # single-threaded comparisons (bench/threads.py scales)
# DuckDB's threads; bench/threads.py sets it (and POLARS_MAX_THREADS) to all cores.
DUCKDB_THREADS = int(os.environ.get("BENCH_DUCKDB_THREADS", "1"))

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import polars as pl  # noqa: E402
import pyarrow as pa  # noqa: E402

CASES = ("tumbling", "hopping", "rolling", "session")
ENGINES = ("duckdb", "polars", "pandas")
MINUTE_MS = 60_000
HOPELESS_FACTOR = 3.0  # see time_best


@dataclass
class Formulation:
    engine: str
    case: str
    name: str
    run: Callable[[], Any]                 # returns the materialized result
    canon: Callable[[Any], pl.DataFrame]   # result -> canonical frame for checks


@dataclass
class Timing:
    engine: str
    case: str
    formulation: str
    seconds: float                      # best of `runs`
    runs: list[float] = field(default_factory=list)
    output_rows: int = 0
    rows: int = 0

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


# --------------------------------------------------------------------------- #
# canonical forms: every result of a case becomes the same columns, sorted    #
# --------------------------------------------------------------------------- #
CANON_COLS = {
    "tumbling": ["key", "ws", "n", "s", "mean", "mn", "mx"],
    "hopping": ["key", "ws", "n", "mean"],
    "rolling": ["key", "ts", "val", "mean"],
    "session": ["key", "start", "end", "n", "s", "mean"],
}
SORT_COLS = {"tumbling": ["key", "ws"], "hopping": ["key", "ws"],
             "rolling": ["key", "ts"], "session": ["key", "start"]}


def _canon(case: str, df: pl.DataFrame) -> pl.DataFrame:
    cols = CANON_COLS[case]
    casts = []
    for c in cols:
        if c in ("ws", "ts", "start", "end"):
            casts.append(pl.col(c).cast(pl.Datetime("ms")))
        elif c == "key":
            casts.append(pl.col(c).cast(pl.Int32))
        elif c == "n":
            casts.append(pl.col(c).cast(pl.Int64))
        else:
            casts.append(pl.col(c).cast(pl.Float64))
    return df.select(casts).sort(SORT_COLS[case])


def _canon_arrow(case: str, renames: dict[str, str] | None = None):
    def f(tbl: pa.Table) -> pl.DataFrame:
        df = pl.from_arrow(tbl)
        if renames:
            df = df.rename(renames)
        return _canon(case, df)
    return f


def _canon_polars(case: str, renames: dict[str, str] | None = None):
    def f(df: pl.DataFrame) -> pl.DataFrame:
        if renames:
            df = df.rename(renames)
        return _canon(case, df)
    return f


# --------------------------------------------------------------------------- #
# DuckDB                                                                      #
# --------------------------------------------------------------------------- #
DUCKDB_SQL: dict[str, dict[str, str]] = {
    "tumbling": {
        "time_bucket": """
            SELECT key, time_bucket(INTERVAL 1 minute, ts) AS ws,
                   count(*) AS n, sum(val) AS s, avg(val) AS mean, min(val) AS mn, max(val) AS mx
            FROM t GROUP BY ALL""",
        "epoch_div": """
            SELECT key, epoch_ms(b * 60000) AS ws, n, s, mean, mn, mx
            FROM (SELECT key, epoch_ms(ts) // 60000 AS b,
                         count(*) AS n, sum(val) AS s, avg(val) AS mean, min(val) AS mn, max(val) AS mx
                  FROM t GROUP BY ALL)""",
    },
    "hopping": {
        # every row joined with its 5 window starts, then one big GROUP BY
        "rows_x_range5": """
            SELECT key, epoch_ms(w * 60000) AS ws, n, mean
            FROM (SELECT key, b - i AS w, count(*) AS n, avg(val) AS mean
                  FROM (SELECT key, val, epoch_ms(ts) // 60000 AS b FROM t), range(5) r(i)
                  GROUP BY ALL)""",
        "rows_unnest": """
            SELECT key, epoch_ms(w * 60000) AS ws, n, mean
            FROM (SELECT key, w, count(*) AS n, avg(val) AS mean
                  FROM (SELECT key, val, unnest(range(epoch_ms(ts) // 60000 - 4,
                                                      epoch_ms(ts) // 60000 + 1)) AS w FROM t)
                  GROUP BY ALL)""",
        # 1 min panes first (10M -> ~1.7M rows), then each pane feeds its 5 windows
        "panes_x_range5": """
            WITH panes AS (SELECT key, epoch_ms(ts) // 60000 AS p, count(*) AS c, sum(val) AS s
                           FROM t GROUP BY ALL)
            SELECT key, epoch_ms(w * 60000) AS ws, n, s / n AS mean
            FROM (SELECT key, p - i AS w, sum(c) AS n, sum(s) AS s
                  FROM panes, range(5) r(i) GROUP BY ALL)""",
        # panes, plus empty panes at every window start without data, then a
        # 5-pane RANGE frame over each key's panes
        "panes_window": """
            WITH panes AS (SELECT key, epoch_ms(ts) // 60000 AS p, count(*) AS c, sum(val) AS s
                           FROM t GROUP BY ALL),
                 starts AS (SELECT DISTINCT key, p - i AS p FROM panes, range(5) r(i)),
                 grid AS (SELECT st.key, st.p, coalesce(pa.c, 0) AS c, coalesce(pa.s, 0) AS s
                          FROM starts st LEFT JOIN panes pa USING (key, p))
            SELECT key, epoch_ms(p * 60000) AS ws, n, s / n AS mean
            FROM (SELECT key, p, sum(c) OVER w AS n, sum(s) OVER w AS s FROM grid
                  WINDOW w AS (PARTITION BY key ORDER BY p
                               RANGE BETWEEN CURRENT ROW AND 4 FOLLOWING))""",
    },
    "rolling": {
        "range_window": """
            SELECT ts, key, val,
                   avg(val) OVER (PARTITION BY key ORDER BY ts
                                  RANGE BETWEEN INTERVAL 299999 milliseconds PRECEDING
                                            AND CURRENT ROW) AS mean
            FROM t""",
    },
    "session": {
        "lag_cumsum": """
            WITH flagged AS (
                SELECT key, ts, val,
                       CASE WHEN ts - lag(ts) OVER (PARTITION BY key ORDER BY ts) < INTERVAL 30 seconds
                            THEN 0 ELSE 1 END AS new
                FROM t),
            numbered AS (
                SELECT key, ts, val,
                       sum(new) OVER (PARTITION BY key ORDER BY ts ROWS UNBOUNDED PRECEDING) AS sid
                FROM flagged)
            SELECT key, min(ts) AS start, max(ts) + INTERVAL 30 seconds AS "end",
                   count(*) AS n, sum(val) AS s, avg(val) AS mean
            FROM numbered GROUP BY key, sid""",
    },
}


def duckdb_formulations(table: pa.Table, cases) -> list[Formulation]:
    con = duckdb.connect()
    con.execute(f"SET threads = {DUCKDB_THREADS}")
    con.register("t", table)  # zero-copy Arrow scan
    out = []
    for case in cases:
        for name, sql in DUCKDB_SQL[case].items():
            out.append(Formulation(
                "duckdb", case, name,
                run=(lambda sql=sql: con.sql(sql).to_arrow_table()),
                canon=_canon_arrow(case)))
    return out


# --------------------------------------------------------------------------- #
# Polars                                                                      #
# --------------------------------------------------------------------------- #
def polars_formulations(df: pl.DataFrame, cases) -> list[Formulation]:
    v = pl.col("val")
    tumbling_aggs = [pl.len().alias("n"), v.sum().alias("s"), v.mean().alias("mean"),
                     v.min().alias("mn"), v.max().alias("mx")]

    def tumbling_dynamic():
        return df.group_by_dynamic("ts", every="1m", group_by="key").agg(tumbling_aggs)

    def tumbling_sorted_dynamic():
        # group_by_dynamic is much faster on key-contiguous input; the sort is part of the cost
        return (df.sort("key", maintain_order=True)
                .group_by_dynamic("ts", every="1m", group_by="key").agg(tumbling_aggs))

    def tumbling_truncate():
        return df.group_by("key", pl.col("ts").dt.truncate("1m").alias("ws")).agg(tumbling_aggs)

    def tumbling_truncate_streaming():
        return (df.lazy().group_by("key", pl.col("ts").dt.truncate("1m").alias("ws"))
                .agg(tumbling_aggs).collect(engine="streaming"))

    def tumbling_combined_key():
        # one int64 group key (minute * 1000 + key) instead of two columns
        g = (pl.col("ts").dt.epoch("ms") // MINUTE_MS) * 1000 + pl.col("key")
        return (df.group_by(g.alias("g")).agg(tumbling_aggs)
                .select((pl.col("g") % 1000).cast(pl.Int32).alias("key"),
                        ((pl.col("g") // 1000) * MINUTE_MS).cast(pl.Datetime("ms")).alias("ws"),
                        pl.exclude("g")))

    def hopping_dynamic():
        return df.group_by_dynamic("ts", every="1m", period="5m", offset="-4m",
                                   group_by="key").agg(pl.len().alias("n"), v.mean().alias("mean"))

    def hopping_sorted_dynamic():
        return (df.sort("key", maintain_order=True)
                .group_by_dynamic("ts", every="1m", period="5m", offset="-4m", group_by="key")
                .agg(pl.len().alias("n"), v.mean().alias("mean")))

    def hopping_panes(engine="in-memory"):
        panes = df.lazy().group_by("key", (pl.col("ts").dt.epoch("ms") // MINUTE_MS).alias("p")).agg(
            pl.len().alias("c"), v.sum().alias("s"))
        return (panes.with_columns(pl.int_ranges(pl.col("p") - 4, pl.col("p") + 1).alias("w"))
                .explode("w")
                .group_by("key", "w")
                .agg(pl.col("c").sum().alias("n"), pl.col("s").sum())
                .select("key", (pl.col("w") * MINUTE_MS).cast(pl.Datetime("ms")).alias("ws"),
                        "n", (pl.col("s") / pl.col("n")).alias("mean"))
                .collect(engine=engine))

    def rolling_over():
        return df.with_columns(v.rolling_mean_by("ts", "5m").over("key").alias("mean"))

    def rolling_groupby():
        return df.rolling("ts", period="5m", group_by="key").agg(v.last(), v.mean().alias("mean"))

    session_aggs = [pl.col("ts").min().alias("start"),
                    (pl.col("ts").max() + pl.duration(seconds=30)).alias("end"),
                    pl.len().alias("n"), v.sum().alias("s"), v.mean().alias("mean")]

    def session_over():
        new = ((pl.col("ts").diff() >= pl.duration(seconds=30)).fill_null(True)).over("key")
        return (df.with_columns(new.alias("new"))
                .with_columns(pl.col("new").cum_sum().over("key").alias("sid"))
                .group_by("key", "sid").agg(session_aggs))

    def session_sorted():
        # stable sort by key keeps ts order inside each key; then one global pass
        s = df.sort("key", maintain_order=True)
        new = ((pl.col("key") != pl.col("key").shift())
               | (pl.col("ts").diff() >= pl.duration(seconds=30))).fill_null(True)
        return (s.with_columns(new.cum_sum().set_sorted().alias("sid"))
                .group_by("sid").agg(pl.col("key").first(), *session_aggs))

    table = {
        # likely-fastest first, so that hopeless ones are cut short (time_best)
        "tumbling": {"group_by_truncate": (tumbling_truncate, None),
                     "group_by_truncate_streaming": (tumbling_truncate_streaming, None),
                     "group_by_combined_key": (tumbling_combined_key, None),
                     "sort_key_group_by_dynamic": (tumbling_sorted_dynamic, {"ts": "ws"}),
                     "group_by_dynamic": (tumbling_dynamic, {"ts": "ws"})},
        "hopping": {"sort_key_group_by_dynamic": (hopping_sorted_dynamic, {"ts": "ws"}),
                    "panes_explode_streaming": (lambda: hopping_panes("streaming"), None),
                    "panes_explode": (hopping_panes, None),
                    "group_by_dynamic": (hopping_dynamic, {"ts": "ws"})},
        "rolling": {"rolling_mean_by_over": (rolling_over, None),
                    "rolling_group_by": (rolling_groupby, None)},
        "session": {"diff_cumsum_over": (session_over, None),
                    "sort_then_global_cumsum": (session_sorted, None)},
    }
    out = []
    for case in cases:
        for name, (fn, renames) in table[case].items():
            out.append(Formulation("polars", case, name, fn, _canon_polars(case, renames)))
    return out


# --------------------------------------------------------------------------- #
# pandas (tumbling only: the cheap one)                                       #
# --------------------------------------------------------------------------- #
def pandas_formulations(pdf: pd.DataFrame, cases) -> list[Formulation]:
    def tumbling():
        g = pdf.groupby(["key", pdf["ts"].dt.floor("1min").rename("ws")], sort=False, observed=True)
        return g["val"].agg(["count", "sum", "mean", "min", "max"])

    def canon(res: pd.DataFrame) -> pl.DataFrame:
        res = res.reset_index().rename(columns={"count": "n", "sum": "s", "min": "mn", "max": "mx"})
        return _canon("tumbling", pl.from_pandas(res))

    return [Formulation("pandas", "tumbling", "groupby_floor", tumbling, canon)] \
        if "tumbling" in cases else []


# --------------------------------------------------------------------------- #
# timing and checks                                                           #
# --------------------------------------------------------------------------- #
def _n_rows(res) -> int:
    if isinstance(res, (pa.Table, pl.DataFrame, pd.DataFrame)):
        return len(res) if not isinstance(res, pa.Table) else res.num_rows
    raise TypeError(type(res))


def time_best(fn: Callable[[], Any], repeats: int,
              hopeless_after: float = float("inf")) -> tuple[list[float], Any]:
    """Run fn up to `repeats` times; return all wall times and the last result.

    Stops after one run slower than `hopeless_after` seconds (several times the
    engine's best formulation so far): such a formulation cannot become the
    engine's best, and repeating it only makes the benchmark slow.
    """
    times, res = [], None
    for _ in range(repeats):
        res = None  # free the previous result before the next run
        gc.collect()
        t0 = time.perf_counter()
        res = fn()
        times.append(time.perf_counter() - t0)
        if times[-1] > hopeless_after:
            break
    return times, res


def check_equal(case: str, a: pl.DataFrame, b: pl.DataFrame, what: str,
                rtol: float = 1e-9, atol: float = 1e-9) -> None:
    """Exact on keys, times and counts; close on floats (summation order differs)."""
    if a.shape != b.shape:
        raise AssertionError(f"{case}: {what}: shapes differ {a.shape} vs {b.shape}")
    for c in a.columns:
        x, y = a[c], b[c]
        if x.dtype == pl.Float64:
            xa, ya = x.to_numpy(), y.to_numpy()
            if not np.allclose(xa, ya, rtol=rtol, atol=atol, equal_nan=True):
                bad = int((~np.isclose(xa, ya, rtol=rtol, atol=atol, equal_nan=True)).sum())
                raise AssertionError(f"{case}: {what}: column {c}: {bad} values differ")
        elif not x.equals(y):
            bad = int((x != y).sum())
            raise AssertionError(f"{case}: {what}: column {c}: {bad} values differ")


def run_peers(table: pa.Table, cases=CASES, engines=ENGINES, repeats: int = 3,
              check: bool = True, log=print) -> list[Timing]:
    """Time every formulation of every case; returns one Timing per formulation."""
    rows = table.num_rows
    forms: list[Formulation] = []
    if "duckdb" in engines:
        forms += duckdb_formulations(table, cases)
    if "polars" in engines:
        forms += polars_formulations(pl.from_arrow(table), cases)
    if "pandas" in engines:
        forms += pandas_formulations(table.to_pandas(), cases)

    return time_formulations(forms, cases, rows, repeats, check, log)


def time_formulations(forms: list[Formulation], cases, rows: int, repeats: int = 3,
                      check: bool = True, log=print) -> list[Timing]:
    """Time `forms` case by case; with `check`, each result against the case's first."""
    timings: list[Timing] = []
    for case in cases:
        reference: tuple[str, pl.DataFrame] | None = None
        for f in (f for f in forms if f.case == case):
            best_so_far = min((t.seconds for t in timings
                               if t.case == case and t.engine == f.engine), default=float("inf"))
            times, res = time_best(f.run, repeats, HOPELESS_FACTOR * best_so_far)
            t = Timing(f.engine, case, f.name, min(times), times, _n_rows(res), rows)
            timings.append(t)
            log(f"  {case:9s} {f.engine:7s} {f.name:28s} best {t.seconds:8.3f} s "
                f"{t.rows_per_s / 1e6:8.2f} M rows/s  ({t.output_rows:,} output rows)")
            if check:
                c = f.canon(res)
                res = None
                if reference is None:
                    reference = (f"{f.engine}/{f.name}", c)
                else:
                    check_equal(case, reference[1], c, f"{reference[0]} vs {f.engine}/{f.name}")
            res = None
            gc.collect()
        if check and reference is not None:
            log(f"  {case:9s} all formulations agree")
    return timings


def best_by_engine(timings: list[Timing]) -> dict[tuple[str, str], Timing]:
    """(case, engine) -> fastest formulation."""
    best: dict[tuple[str, str], Timing] = {}
    for t in timings:
        k = (t.case, t.engine)
        if k not in best or t.seconds < best[k].seconds:
            best[k] = t
    return best


# --- Parsing peers (issue #3) -------------------------------------------------
#
# The same lines sash parses: ``kernels --parse --write-data bench/data``
# writes them (bench/data/parse_<case>.log, deterministic). Each peer gets
# the lines already loaded as one string column (sash parses from an
# in-memory buffer too) and is timed on regex extraction into typed columns:
# Polars ``str.extract_groups`` + casts, DuckDB ``regexp_extract`` (threads=1)
# with a struct of named groups + casts/strptime.

PARSE_PATTERNS = {
    "parse_combined": (
        r'^(?P<host>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<ts>[^\]]+)\] "(?P<method>\S+) (?P<path>\S+) (?P<protocol>[^"]*)" '
        r'(?P<status>\d{3}) (?P<size>\d+|-) "(?P<referrer>[^"]*)" "(?P<user_agent>[^"]*)"$',
        {"status": "UInt16", "size": "UInt64"}, ("ts", "%d/%b/%Y:%H:%M:%S %z"),
    ),
    "parse_nginx": (
        r'^(?P<host>\S+) - (?P<user>\S+) \[(?P<ts>[^\]]+)\] "(?P<method>\S+) (?P<path>\S+) (?P<protocol>[^"]*)" '
        r'(?P<status>\d{3}) (?P<size>\d+|-) "(?P<referrer>[^"]*)" "(?P<user_agent>[^"]*)" rt=(?P<rt>\S+) uct="(?P<uct>[^"]*)"$',
        {"status": "UInt16", "size": "UInt64", "rt": "Float64", "uct": "Float64"}, ("ts", "%d/%b/%Y:%H:%M:%S %z"),
    ),
    # The same lines and regex as parse_combined: sash runs it written as grok.
    "parse_grok": None,
    "parse_syslog": (
        r'^(?P<ts>\w{3} [ \d]\d \d\d:\d\d:\d\d) (?P<hostname>\S+) (?P<appname>[^\[:]+)(?:\[(?P<procid>\d+)\])?: (?P<message>.*)$',
        {}, None,
    ),
    "parse_logfmt": (
        r'^time=(?P<time>\S+) level=(?P<level>\S+) msg="(?P<msg>[^"]*)" path=(?P<path>\S+) status=(?P<status>\d+) '
        r'duration=(?P<duration>[\d.]+) user=(?P<user>\S+)$',
        {"status": "Int64", "duration": "Float64"}, ("time", "%Y-%m-%dT%H:%M:%SZ"),
    ),
}


def run_parse_peers(data_dir: str, repeats: int) -> dict[tuple[str, str], float]:
    """Seconds (best of ``repeats``) per (case, engine) on bench/data/parse_<case>.log."""
    results = {}
    for case, spec in PARSE_PATTERNS.items():
        pattern, casts, ts = spec or PARSE_PATTERNS["parse_combined"]
        path = os.path.join(data_dir, f"{case}.log")
        if not os.path.exists(path):
            print(f"parse peers: {path} missing; run the kernels bench with --parse --write-data {data_dir}")
            continue
        with open(path, "rb") as f:
            raw = f.read()
        lines = raw.decode().splitlines()
        nbytes = len(raw)
        series = pl.Series("line", lines)
        del lines

        def polars_run():
            groups = series.str.extract_groups(pattern).struct.unnest()
            exprs = [pl.col(c).cast(getattr(pl, t), strict=False) for c, t in casts.items()]
            if ts:
                exprs.append(pl.col(ts[0]).str.strptime(pl.Datetime("us", "UTC"), ts[1], strict=False))
            return groups.with_columns(exprs) if exprs else groups

        con = duckdb.connect()
        con.execute(f"SET threads = {DUCKDB_THREADS}")
        con.register("lines_arrow", pa.table({"line": pa.array(series.to_arrow(), pa.large_string())}))
        con.execute("CREATE TABLE lines AS SELECT line FROM lines_arrow")
        names = [n for n in __import__("re").findall(r"\?P<(\w+)>", pattern)]
        duck_pattern = __import__("re").sub(r"\(\?P<\w+>", "(", pattern).replace("'", "''")  # RE2: groups by position
        items = []
        for n in names:
            expr = f"g.{n}"
            if n in casts:
                expr = f"TRY_CAST(NULLIF({expr}, '-') AS {'USMALLINT' if casts[n] == 'UInt16' else 'UBIGINT' if casts[n] == 'UInt64' else 'BIGINT' if casts[n] == 'Int64' else 'DOUBLE'})"
            elif ts and n == ts[0]:
                expr = f"try_strptime({expr}, '{ts[1]}')"
            items.append(f"{expr} AS {n}")
        names_list = ", ".join(f"'{n}'" for n in names)
        sql = f"SELECT {', '.join(items)} FROM (SELECT regexp_extract(line, '{duck_pattern}', [{names_list}]) AS g FROM lines)"

        def duckdb_run():
            return con.sql(sql).to_arrow_table()

        for engine, fn in (("polars", polars_run), ("duckdb", duckdb_run)):
            best = float("inf")
            for _ in range(repeats):
                gc.collect()
                start = time.perf_counter()
                out = fn()
                best = min(best, time.perf_counter() - start)
            rows = out.height if engine == "polars" else out.num_rows
            assert rows == len(series), (engine, rows)
            results[(case, engine)] = best
            print(f'{{"case": "{case}", "engine": "{engine}", "rows": {rows}, "bytes": {nbytes}, '
                  f'"seconds": {best:.6f}, "mb_per_s": {nbytes / 1e6 / best:.1f}}}', flush=True)
        con.close()
    # JSON lines with a declared schema: pyarrow's JSON reader on the same bytes, one thread and all threads.
    path = os.path.join(data_dir, "parse_json.log")
    if os.path.exists(path):
        import pyarrow.json as pj
        schema = pa.schema([("time", pa.timestamp("us", "UTC")), ("level", pa.string()), ("msg", pa.string()),
                            ("path", pa.string()), ("status", pa.int64()), ("duration", pa.float64()), ("user", pa.string())])
        nbytes = os.path.getsize(path)
        for engine, threads in (("pyarrow", False), ("pyarrow_threads", True)):
            best = float("inf")
            for _ in range(repeats):
                gc.collect()
                start = time.perf_counter()
                out = pj.read_json(path, read_options=pj.ReadOptions(use_threads=threads, block_size=1 << 24),
                                   parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"))
                best = min(best, time.perf_counter() - start)
            results[("parse_json", engine)] = best
            print(f'{{"case": "parse_json", "engine": "{engine}", "rows": {out.num_rows}, "bytes": {nbytes}, '
                  f'"seconds": {best:.6f}, "mb_per_s": {nbytes / 1e6 / best:.1f}}}', flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--parse":
        # .venv/bin/python bench/peers.py --parse [DATA_DIR] : the parsing peers only.
        data_dir = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
        run_parse_peers(data_dir, repeats=3)
        return 0
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import gen_data

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=gen_data.DEFAULT_ROWS)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-check", action="store_true", help="skip the agreement checks")
    args = ap.parse_args(argv)
    cases = [c for c in args.cases.split(",") if c]
    unknown = set(cases) - set(CASES)
    if unknown:
        ap.error(f"unknown cases {sorted(unknown)}; known: {', '.join(CASES)}")
    table = gen_data.load_table(gen_data.ensure_data(args.rows))
    print(f"peers: {table.num_rows:,} rows, duckdb {duckdb.__version__} (threads=1), "
          f"polars {pl.__version__} (POLARS_MAX_THREADS={os.environ['POLARS_MAX_THREADS']}), "
          f"pandas {pd.__version__}")
    timings = run_peers(table, cases, args.engines.split(","), args.repeats, not args.no_check)
    for (case, engine), t in best_by_engine(timings).items():
        print(f"best {case:9s} {engine:7s} {t.rows_per_s / 1e6:8.2f} M rows/s ({t.formulation})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
