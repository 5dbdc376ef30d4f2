"""Random-data equivalence against DuckDB on real time types (hypothesis).

test_equivalence.py keeps the time column a plain integer so that the SQL
stays simple. Here the time column is what users pass: timestamps in every
unit (s, ms, us, ns), with and without a time zone, Date32 and Date64; with
window offsets, both `closed` sides, sliced and split inputs, string and
integer keys with nulls, non-integral floats, and the aggregations that do
not combine (first/last, var/std, quantiles, distinct counts, min_by/max_by).
The rows come from a `random.Random` seeded by hypothesis: whole random
tables (up to 200 rows) rather than shrinkable lists, so every example
exercises sizeable windows.

DuckDB computes the windows on the column's raw ticks (an integer per row),
so the expected grid follows docs/semantics.md by construction: fixed by the
Unix epoch plus the offset, time zones never moving it.
"""
import math
import random

import duckdb
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sash

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TICKS_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
ZONES = [None, "UTC", "America/New_York", "Asia/Kolkata"]

# sash expression -> DuckDB aggregate, for both operations. `rn` is the input
# order, `b` a second (nullable) integer column for min_by/max_by.
SHARED_AGGS = {
    "count()": "count(*)",
    "count(val)": "count(val)",
    "sum(val)": "sum(val)",
    "mean(val)": "avg(val)",
    "min(val)": "min(val)",
    "max(val)": "max(val)",
    "var(val)": "var_samp(val)",
    "std(val)": "stddev_samp(val)",
    "median(val)": "quantile_cont(val, 0.5)",
    "mean(iv)": "avg(iv)",
}

WINDOW_AGGS = {
    **SHARED_AGGS,
    "first(val)": "list(val ORDER BY ts, rn) FILTER (WHERE val IS NOT NULL)[1]",
    "last(val)": "list(val ORDER BY ts DESC, rn DESC) FILTER (WHERE val IS NOT NULL)[1]",
    "quantile(val, 0.3)": "quantile_cont(val, 0.3)",
    "count_distinct(val)": "count(DISTINCT val)",
    "min_by(val, b)": "list(val ORDER BY b, ts, rn) FILTER (WHERE b IS NOT NULL)[1]",
    "max_by(val, b)": "list(val ORDER BY b DESC, ts, rn) FILTER (WHERE b IS NOT NULL)[1]",
    "sum(iv)": "sum(iv)::BIGINT",
    "min(s)": "min(s)",
    "max(s)": "max(s)",
    "first(s)": "list(s ORDER BY ts, rn) FILTER (WHERE s IS NOT NULL)[1]",
    "count_distinct(s)": "count(DISTINCT s)",
}

# Window functions take no cast after the aggregate, so sum(iv) stays as DuckDB types it.
ROLLING_AGGS = {
    **SHARED_AGGS,
    "quantile(val, 0.9)": "quantile_cont(val, 0.9)",
    "sum(iv)": "sum(iv)",
    "min(iv)": "min(iv)",
    "count_distinct(iv)": "count(DISTINCT iv)",
}

def floor_div(x: str, d: int) -> str:
    """SQL for floor(x / d) on integers, exact for any sign (no float rounding)."""
    return f"(CASE WHEN ({x}) >= 0 THEN ({x}) // {d} ELSE -((-({x}) + {d} - 1) // {d}) END)"


class Case:
    """A random table with a real time column, and the same rows as raw ticks for DuckDB."""

    def __init__(self, rng: random.Random, time_kind: str):
        n = rng.choice([0, 1, 2, 7, 40, 200])
        self.time_kind = time_kind
        if time_kind in TICKS_PER_SECOND:
            per_second = TICKS_PER_SECOND[time_kind]
            unit_seconds, suffix = rng.choice([(1, "s"), (60, "m"), (3600, "h"), (86400, "d")])
            count = rng.randint(1, 5)
            self.every = f"{count}{suffix}"
            self.every_ticks = count * unit_seconds * per_second
            offset_units = rng.choice([0, 0, 1, -2])
            self.offset = f"{offset_units}{suffix}" if offset_units else None
            self.offset_ticks = offset_units * unit_seconds * per_second
            self.gap, self.gap_ticks = f"{unit_seconds}s", unit_seconds * per_second
            span = self.every_ticks * rng.randint(1, 8)
            base = rng.randint(-10**9, 2 * 10**9) * per_second
            whole_seconds = rng.random() < 0.5
            ticks = [base + rng.randint(0, span) for _ in range(n)]
            if whole_seconds:
                ticks = [t // per_second * per_second for t in ticks]
            zone = rng.choice(ZONES)
            column = pa.array(ticks, pa.int64()).cast(pa.timestamp(time_kind, zone))
        else:
            days = rng.randint(1, 4)
            day = 1 if time_kind == "date32" else 86_400_000
            self.every, self.every_ticks = f"{days}d", days * day
            offset_days = rng.choice([0, 1, -2])
            self.offset = f"{offset_days}d" if offset_days else None
            self.offset_ticks = offset_days * day
            self.gap, self.gap_ticks = "2d", 2 * day
            base = rng.randint(-20_000, 30_000)
            ticks = [(base + rng.randint(0, days * rng.randint(1, 10))) * day for _ in range(n)]
            column = (pa.array(ticks, pa.int32()).cast(pa.date32()) if time_kind == "date32"
                      else pa.array(ticks, pa.int64()).cast(pa.date64()))
        if rng.random() < 0.3:
            order = sorted(range(n), key=ticks.__getitem__)
            ticks = [ticks[i] for i in order]
            column = column.take(pa.array(order, pa.int64()))
        if rng.random() < 0.5:
            keys = pa.array([rng.choice([None, "a", "b", "é", ""]) for _ in range(n)], pa.string())
        else:
            keys = pa.array([rng.choice([None, 1, 2, -3]) for _ in range(n)], pa.int64())
        magnitude = rng.choice([1.0, 1e3, 1e12])
        val = [None if rng.random() < 0.15 else rng.choice([rng.uniform(-1, 1) * magnitude, float(rng.randint(-3, 3))])
               for _ in range(n)]
        columns = {
            "key": keys,
            "val": pa.array(val, pa.float64()),
            "b": pa.array([None if rng.random() < 0.2 else rng.randint(0, 4) for _ in range(n)], pa.int64()),
            "iv": pa.array([None if rng.random() < 0.1 else rng.randint(-10**12, 10**12) for _ in range(n)], pa.int64()),
            "s": pa.array([None if rng.random() < 0.1 else rng.choice(["x", "y", "zz", "", "Ω"]) for _ in range(n)]),
        }
        self.scale = max([abs(v) for v in val if v is not None] + [1.0])
        table = pa.table({"ts": column, **columns})
        # Arrays with a non-zero offset, and several batches.
        pad = rng.randint(0, 3) if n else 0
        if pad:
            table = pa.concat_tables([table.slice(0, pad), table]).slice(min(pad, n))
        if n > 2 and rng.random() < 0.5:
            table = pa.Table.from_batches(table.to_batches(max_chunksize=rng.randint(1, n)), table.schema)
        self.table = table
        self.ticks = pa.table({"ts": pa.array(ticks, pa.int64()), **columns, "rn": pa.array(range(n), pa.int64())})

    def duckdb(self, sql: str) -> list:
        con = duckdb.connect()
        con.register("d", self.ticks)
        return con.sql(sql).fetchall()

    def raw(self, column: pa.ChunkedArray) -> list:
        """A time output column as raw ticks."""
        if self.time_kind == "date32":
            return column.cast(pa.int32()).cast(pa.int64()).to_pylist()
        return column.cast(pa.int64()).to_pylist()


def same(x, y, tol: float) -> bool:
    if x is None or y is None:
        return x is None and y is None
    if isinstance(x, float) or isinstance(y, float):
        if math.isnan(x) or math.isnan(y):
            return math.isnan(x) and math.isnan(y)
        return abs(x - y) <= tol
    return x == y


def tolerance(expr: str, scale: float, want) -> float:
    """Exact for counts and ints; floats to 1e-9, sums also to rounding of the largest value."""
    tol = 1e-9 * max(1.0, abs(want)) if isinstance(want, float) else 0.0
    if expr.startswith(("sum(val", "mean(val")):
        tol = max(tol, 64e-12 * scale)
    if expr.startswith("var(val"):
        tol = max(tol, 1e-9 * scale * scale)
    if expr.startswith("std(val"):
        tol = max(tol, 1e-9 * scale)
    return tol


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1),
       time_kind=st.sampled_from(["s", "ms", "us", "ns", "date32", "date64"]),
       kind=st.sampled_from(["tumbling", "hopping", "session"]),
       closed=st.sampled_from(["left", "right"]),
       by=st.booleans(),
       aggs=st.lists(st.sampled_from(sorted(WINDOW_AGGS)), min_size=1, max_size=6, unique=True))
def test_windows_on_time_types_vs_duckdb(seed, time_kind, kind, closed, by, aggs):
    rng = random.Random(seed)
    case = Case(rng, time_kind)
    spec = {"time": "ts", "aggs": aggs, "by": "key" if by else None}
    E, O = case.every_ticks, case.offset_ticks
    # Under closed="right" a time on an edge belongs to the window it ends: shift it by one tick.
    t = "ts" if closed == "left" else "(ts - 1)"
    if kind == "tumbling":
        spec.update(every=case.every, offset=case.offset, closed=closed)
        k = floor_div(f"{t} - {O}", E)
        windows = f"SELECT *, {k} * {E} + {O} AS ws, {k} * {E} + {O} + {E} AS we FROM d"
    elif kind == "hopping":
        multiple = rng.choice([2, 3])
        number = int(case.every.rstrip("smhd"))
        P = E * multiple
        spec.update(every=case.every, period=f"{number * multiple}{case.every[len(str(number)):]}",
                    offset=case.offset, closed=closed)
        ks = f"range({floor_div(f'{t} - {O} - {P}', E)} + 1, {floor_div(f'{t} - {O}', E)} + 1)"
        windows = f"SELECT * EXCLUDE (k), k * {E} + {O} AS ws, k * {E} + {O} + {P} AS we FROM (SELECT *, unnest({ks}) AS k FROM d)"
    else:
        spec.update(session_gap=case.gap)
        part = "key" if by else "1"
        windows = (f"SELECT * EXCLUDE (sid), min(ts) OVER (PARTITION BY {part}, sid) AS ws, "
                   f"max(ts) OVER (PARTITION BY {part}, sid) + {case.gap_ticks} AS we FROM ("
                   f"  SELECT *, sum(new) OVER (PARTITION BY {part} ORDER BY ts, rn) AS sid FROM ("
                   f"    SELECT *, CASE WHEN lag(ts) OVER (PARTITION BY {part} ORDER BY ts, rn) + {case.gap_ticks} > ts"
                   f"                   THEN 0 ELSE 1 END AS new FROM d))")
    got = sash.window_agg(case.table, **{k: v for k, v in spec.items() if v is not None})
    selected = ", ".join(f"{WINDOW_AGGS[a]} AS a{i}" for i, a in enumerate(aggs))
    want = case.duckdb(f"SELECT {'key, ' if by else ''} ws, we, {selected} FROM ({windows}) GROUP BY ALL")

    groups = 3 if by else 2
    got_rows = list(zip(*(([got.column("key").to_pylist()] if by else [])
                          + [case.raw(got.column("window_start")), case.raw(got.column("window_end"))]
                          + [got.column(got.num_columns - len(aggs) + i).to_pylist() for i in range(len(aggs))])))

    def group_key(row):
        return tuple((x is None, x if x is not None else 0) for x in row[:groups])

    got_rows.sort(key=group_key)
    want.sort(key=group_key)
    assert len(got_rows) == len(want), (spec, len(got_rows), len(want))
    for g, w in zip(got_rows, want):
        assert g[:groups] == w[:groups], (spec, g, w)
        for i, expr in enumerate(aggs):
            x, y = g[groups + i], w[groups + i]
            assert same(x, y, tolerance(expr, case.scale, y)), (spec, expr, g, w)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1),
       time_kind=st.sampled_from(["s", "ms", "us", "ns"]),
       closed=st.sampled_from(["right", "left", "both", "none"]),
       by=st.booleans(),
       seconds=st.sampled_from([1, 2, 30, 90, 3600]),
       aggs=st.lists(st.sampled_from(sorted(ROLLING_AGGS)), min_size=1, max_size=5, unique=True))
def test_rolling_on_time_types_vs_duckdb(seed, time_kind, closed, by, seconds, aggs):
    rng = random.Random(seed)
    case = Case(rng, time_kind)
    p = seconds * TICKS_PER_SECOND[time_kind]
    got = sash.rolling(case.table, time="ts", period=f"{seconds}s", by="key" if by else None, aggs=aggs, closed=closed)
    lo, hi = {"right": (p - 1, "CURRENT ROW"), "left": (p, "1 PRECEDING"),
              "both": (p, "CURRENT ROW"), "none": (p - 1, "1 PRECEDING")}[closed]
    frame = f"OVER ({'PARTITION BY key' if by else ''} ORDER BY ts RANGE BETWEEN {lo} PRECEDING AND {hi})"
    if closed == "none" and p == 1:
        # (t - 1, t) holds no integer tick: every window is empty.
        selected = ", ".join(f"{'0' if a.startswith('count') else 'NULL'} AS a{i}" for i, a in enumerate(aggs))
    else:
        selected = ", ".join(f"{ROLLING_AGGS[a]} {frame} AS a{i}" for i, a in enumerate(aggs))
    want = case.duckdb(f"SELECT {selected} FROM d ORDER BY rn")
    assert got.num_rows == len(want)
    for i, expr in enumerate(aggs):
        column = got.column(got.num_columns - len(aggs) + i).to_pylist()
        for row, (x, w) in enumerate(zip(column, want)):
            assert same(x, w[i], tolerance(expr, case.scale, w[i])), (closed, expr, row, x, w[i])
