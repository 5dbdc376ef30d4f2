"""Random-data equivalence (hypothesis): sash against DuckDB, Polars and the core's brute-force reference.

Random small inputs: unsorted integer times (negative ones too, many ties),
nullable keys, nullable float values (whole numbers, so every engine's sums
are exact), sometimes split into several batches. Integer time columns keep
the peers' SQL simple; the time types themselves are pinned by the corpus.
"""
import math

import duckdb
import polars as pl
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sash
from sash import _sash

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def inputs(draw, min_rows=0):
    n = draw(st.integers(min_rows, 40))
    ts = draw(st.lists(st.integers(-50, 120), min_size=n, max_size=n))
    key = draw(st.lists(st.one_of(st.none(), st.integers(0, 3)), min_size=n, max_size=n))
    val = draw(st.lists(st.one_of(st.none(), st.integers(-100, 100).map(float)), min_size=n, max_size=n))
    t = pa.table({"ts": pa.array(ts, pa.int64()), "key": pa.array(key, pa.int32()), "val": pa.array(val, pa.float64())})
    chunk = draw(st.integers(1, max(n, 1)))
    return pa.Table.from_batches(t.to_batches(max_chunksize=chunk), t.schema) if n else t


def assert_same(got: pa.Table, want: dict, rtol=1e-9):
    got = got.to_pydict()
    assert list(got) == list(want), (list(got), list(want))
    for name in want:
        g, w = got[name], want[name]
        assert len(g) == len(w), (name, g, w)
        for x, y in zip(g, w):
            if isinstance(x, float) or isinstance(y, float):
                assert (x is None) == (y is None), (name, g, w)
                if x is not None and not (math.isnan(x) and math.isnan(y)):
                    assert abs(x - y) <= max(rtol * max(abs(x), abs(y)), 1e-12), (name, g, w)
            else:
                assert x == y, (name, g, w)


AGGS = ["count() as n", "count(val) as nv", "sum(val) as s", "mean(val) as m", "min(val) as lo", "max(val) as hi"]
SQL_AGGS = "count(*) AS n, count(val) AS nv, sum(val) AS s, avg(val) AS m, min(val) AS lo, max(val) AS hi"


def duckdb_query(t: pa.Table, sql: str) -> dict:
    con = duckdb.connect()
    con.register("t", t)
    return con.sql(sql).to_arrow_table().to_pydict()


@SETTINGS
@given(t=inputs(), every=st.integers(1, 40), closed=st.sampled_from(["left", "right"]))
def test_tumbling_vs_duckdb(t, every, closed):
    got = sash.window_agg(t, time="ts", every=every, by="key", aggs=AGGS, closed=closed)
    # left: k = floor(t / every); right: (start, end] -> k = ceil(t / every) - 1
    k = f"floor(ts / {every})" if closed == "left" else f"(ceil(ts / {every}) - 1)"
    want = duckdb_query(t, f"""
        SELECT key, CAST({k} AS BIGINT) * {every} AS window_start, CAST({k} AS BIGINT) * {every} + {every} AS window_end,
               {SQL_AGGS}
        FROM t GROUP BY ALL ORDER BY window_start, key NULLS LAST""")
    assert_same(got, want)


@SETTINGS
@given(t=inputs(), every=st.integers(1, 30), period=st.integers(1, 60))
def test_hopping_vs_duckdb(t, every, period):
    got = sash.window_agg(t, time="ts", every=every, period=period, by="key", aggs=AGGS)
    # Row t is in window k when k*every <= t < k*every + period.
    want = duckdb_query(t, f"""
        WITH c AS (SELECT *, unnest(range(CAST(floor((ts - {period}) / {every}) AS BIGINT) + 1,
                                          CAST(floor(ts / {every}) AS BIGINT) + 1)) AS k FROM t)
        SELECT key, k * {every} AS window_start, k * {every} + {period} AS window_end, {SQL_AGGS}
        FROM c GROUP BY ALL ORDER BY window_start, key NULLS LAST, window_end""")
    assert_same(got, want)


@SETTINGS
@given(t=inputs(), period=st.integers(1, 60), closed=st.sampled_from(["right", "left", "both", "none"]))
def test_rolling_vs_duckdb(t, period, closed):
    got = sash.rolling(t, time="ts", period=period, by="key", aggs=AGGS, closed=closed)
    lo = {"right": period - 1, "left": period, "both": period, "none": period - 1}[closed]
    hi = {"right": "CURRENT ROW", "left": "1 PRECEDING", "both": "CURRENT ROW", "none": "1 PRECEDING"}[closed]
    frame = f"OVER (PARTITION BY key ORDER BY ts RANGE BETWEEN {lo} PRECEDING AND {hi})"
    want = duckdb_query(t, f"""
        SELECT ts, key, val, count(*) {frame} AS n, count(val) {frame} AS nv, sum(val) {frame} AS s,
               avg(val) {frame} AS m, min(val) {frame} AS lo, max(val) {frame} AS hi
        FROM (SELECT *, row_number() OVER () AS rid FROM t) ORDER BY rid""")
    assert_same(got, want)


@SETTINGS
@given(t=inputs(), gap=st.integers(1, 30))
def test_session_vs_polars(t, gap):
    got = sash.window_agg(t, time="ts", session_gap=gap, by="key", aggs=AGGS)
    df = pl.from_arrow(t).sort("key", "ts", nulls_last=True)
    new = (pl.col("ts").diff() >= gap).fill_null(True).over("key")
    want = (
        df.with_columns(new.alias("new"))
        .with_columns(pl.col("new").cum_sum().over("key").alias("sid"))
        .group_by("key", "sid")
        .agg(pl.col("ts").min().alias("window_start"), (pl.col("ts").max() + gap).alias("window_end"),
             pl.len().cast(pl.Int64).alias("n"), pl.col("val").count().cast(pl.Int64).alias("nv"),
             pl.col("val").sum().alias("s"), pl.col("val").mean().alias("m"),
             pl.col("val").min().alias("lo"), pl.col("val").max().alias("hi"))
        .sort("window_start", "key", "window_end", nulls_last=True)
        .drop("sid")
    ).to_dict(as_series=False)
    # Polars sums an all-null group to 0; SQL and sash say null.
    want["s"] = [None if nv == 0 else s for s, nv in zip(want["s"], want["nv"])]
    assert_same(got, want)


@SETTINGS
@given(t=inputs(), period=st.integers(1, 60))
def test_rolling_vs_polars(t, period):
    got = sash.rolling(t, time="ts", period=period, by="key", aggs=["mean(val) as m", "max(val) as hi"])
    want = pl.from_arrow(t).with_columns(
        pl.col("val").rolling_mean_by("ts", f"{period}i").over("key").alias("m"),
        pl.col("val").rolling_max_by("ts", f"{period}i").over("key").alias("hi"),
    ).to_dict(as_series=False)
    assert_same(got, want)


WINDOW_AGGS = ["count()", "count(val)", "sum(val)", "mean(val)", "min(val)", "max(val)", "first(val)", "last(val)",
               "var(val)", "std(val)", "median(val)", "quantile(val, 0.9)", "count_distinct(val)",
               "min_by(ts, val)", "max_by(key, val)", "first(key)", "max(key)"]


@st.composite
def window_specs(draw):
    spec = {"time": "ts", "aggs": draw(st.lists(st.sampled_from(WINDOW_AGGS), min_size=1, max_size=5, unique=True))}
    kind = draw(st.sampled_from(["tumbling", "hopping", "session"]))
    if kind == "session":
        spec["session_gap"] = draw(st.integers(1, 30))
    else:
        spec["every"] = draw(st.integers(1, 30))
        if kind == "hopping":
            spec["period"] = draw(st.integers(1, 60))
        spec["offset"] = draw(st.integers(-20, 20))
        spec["closed"] = draw(st.sampled_from(["left", "right"]))
    spec["by"] = draw(st.sampled_from([None, "key", ["key"]]))
    return {k: v for k, v in spec.items() if v is not None}


@settings(max_examples=150, deadline=None)
@given(t=inputs(), spec=window_specs())
def test_window_agg_vs_reference(t, spec):
    assert_same(sash.window_agg(t, **spec), _sash._reference_window_agg(t, spec).to_pydict())


@st.composite
def rolling_specs(draw):
    period = draw(st.one_of(st.integers(1, 60), st.integers(1, 6).map(lambda n: f"{n}i")))
    return {"time": "ts", "period": period, "by": draw(st.sampled_from([None, "key"])),
            "closed": draw(st.sampled_from(["right", "left", "both", "none"])),
            "aggs": draw(st.lists(st.sampled_from(WINDOW_AGGS), min_size=1, max_size=4, unique=True))}


@settings(max_examples=150, deadline=None)
@given(t=inputs(), spec=rolling_specs())
def test_rolling_vs_reference(t, spec):
    assert_same(sash.rolling(t, **spec), _sash._reference_rolling(t, spec).to_pydict())
