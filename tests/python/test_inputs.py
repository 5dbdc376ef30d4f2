"""Every kind of input works, gives the same answer, and is left unchanged."""
import datetime as dt
import threading

import duckdb
import nanoarrow as na
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import sash

TS = [0, 20_000, 65_000, 70_000, 130_000, 125_000]
KEY = [1, 2, 1, 1, 2, 1]
VAL = [1.0, 2.0, 3.0, None, 5.0, 6.0]
WINDOW = dict(time="ts", every="1m", by="key", aggs=["count() as n", "sum(val) as s", "max(val) as hi"])
ROLLING = dict(time="ts", period="1m", by="key", aggs=["count() as n", "max(ts) as m"])


def base() -> pa.Table:
    return pa.table({"ts": pa.array(TS, pa.timestamp("ms")), "key": pa.array(KEY, pa.int64()), "val": pa.array(VAL)})


EXPECTED_WINDOW = sash.window_agg(base(), **WINDOW)
EXPECTED_ROLLING = sash.rolling(base(), **ROLLING)


def inputs():
    t = base()
    yield "pyarrow.Table", lambda: t
    yield "pyarrow.Table (several chunks)", lambda: pa.Table.from_batches(t.to_batches(max_chunksize=2))
    yield "pyarrow.RecordBatch", lambda: t.to_batches()[0]
    yield "pyarrow.RecordBatchReader", lambda: pa.RecordBatchReader.from_batches(t.schema, t.to_batches(max_chunksize=4))
    yield "polars.DataFrame", lambda: pl.from_arrow(t)
    yield "duckdb relation", lambda: duckdb.connect().from_arrow(t)
    yield "pandas.DataFrame", lambda: t.to_pandas()
    yield "nanoarrow.ArrayStream", lambda: na.ArrayStream(t)
    yield "nanoarrow.Array", lambda: na.Array(t.to_batches()[0])
    yield "dict of numpy arrays", lambda: {
        "ts": np.array(TS, dtype="datetime64[ms]"), "key": np.array(KEY), "val": np.array(VAL, dtype=float)}
    yield "dict of lists", lambda: {
        "ts": [dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=x) for x in TS], "key": KEY, "val": VAL}


INPUTS = dict(inputs())


def snapshot(obj):
    """A deep copy of a non-Arrow input, to check it is unchanged afterwards."""
    if isinstance(obj, dict):
        return {k: np.array(v, copy=True) for k, v in obj.items()}
    if isinstance(obj, pd.DataFrame):
        return obj.copy(deep=True)
    if isinstance(obj, pl.DataFrame):
        return obj.clone()
    return None


@pytest.mark.parametrize("name", INPUTS)
def test_window_agg_from(name):
    data = INPUTS[name]()
    before = snapshot(data)
    out = sash.window_agg(data, **WINDOW)
    assert isinstance(out, pa.Table)
    if name == "dict of lists":
        # datetime objects make a timestamp[us] column: same values, finer unit.
        assert out.to_pydict() == EXPECTED_WINDOW.to_pydict()
    elif name == "dict of numpy arrays":
        # NumPy has no nulls: the None became NaN (see the next test).
        assert out.drop_columns(["s", "hi"]).equals(EXPECTED_WINDOW.drop_columns(["s", "hi"]))
    else:
        assert out.equals(EXPECTED_WINDOW)
    # The input is still valid and unchanged.
    if isinstance(data, pd.DataFrame):
        pd.testing.assert_frame_equal(data, before)
    elif isinstance(data, pl.DataFrame):
        assert data.equals(before)
    elif isinstance(data, dict):
        assert data.keys() == before.keys()
        for k in data:
            np.testing.assert_array_equal(np.asarray(data[k]), before[k])
    elif isinstance(data, pa.Table):
        assert data.equals(base())


def test_numpy_nan_is_a_value_not_a_null():
    # NumPy has no nulls: NaN in a float array is NaN, and max propagates it.
    out = sash.window_agg(INPUTS["dict of numpy arrays"](), **WINDOW).to_pydict()
    assert out["key"][2] == 1 and np.isnan(out["hi"][2]) and np.isnan(out["s"][2])


@pytest.mark.parametrize("name", INPUTS)
def test_rolling_from(name):
    out = sash.rolling(INPUTS[name](), **ROLLING)
    assert out.column("n").to_pylist() == EXPECTED_ROLLING.column("n").to_pylist()


def test_inputs_unchanged_pyarrow_and_numpy():
    t = base()
    arrays = {"ts": np.array(TS, dtype=np.int64), "key": np.array(KEY), "val": np.array([1.0, 2, 3, 4, 5, 6])}
    copies = {k: v.copy() for k, v in arrays.items()}
    sash.window_agg(t, **WINDOW)
    sash.rolling(t, **ROLLING)
    sash.window_agg(arrays, time="ts", every=60_000, by="key", aggs=["sum(val)"])
    sash.rolling(arrays, time="ts", period=60_000, by="key", aggs=["sum(val)"])
    assert t.equals(base())
    for k in arrays:
        np.testing.assert_array_equal(arrays[k], copies[k])
        assert arrays[k].flags.writeable


def test_a_consumed_reader_is_an_error_not_an_empty_input():
    reader = INPUTS["pyarrow.RecordBatchReader"]()
    assert sash.window_agg(reader, **WINDOW).equals(EXPECTED_WINDOW)
    # A stream is read once: pyarrow would hand out an empty stream the
    # second time, which would pass for an empty input.
    with pytest.raises(sash.InvalidInputError, match="already read"):
        sash.window_agg(reader, **WINDOW)


def test_unsupported_input_is_a_type_error():
    # A sash error too, so that `except sash.SashError` catches every sash error.
    for bad in ([1, 2, 3], 5, None):
        with pytest.raises(sash.WrongTypeError, match="Arrow object") as info:
            sash.window_agg(bad, **WINDOW)
        assert isinstance(info.value, TypeError) and info.value.kind == "wrong_type"
    with pytest.raises(TypeError, match="'every'"):
        sash.window_agg(base(), time="ts", every=object(), aggs=["count()"])


def test_keyword_forms():
    t = base()
    a = sash.window_agg(t, time="ts", every="1m", by=["key"], aggs={"n": "count()"})
    b = sash.window_agg(t, time="ts", every=dt.timedelta(minutes=1), by="key", aggs=("count() as n",))
    c = sash.window_agg(t, time="ts", every="60s", by="key", aggs=["count() as n"], closed="left", null_time="error")
    assert a.equals(b) and a.equals(c)
    ints = pa.table({"t": pa.array([1, 2, 15], pa.int32())})
    assert sash.window_agg(ints, time="t", every=np.int64(10), aggs=["count() as n"])["n"].to_pylist() == [2, 1]


def test_durations_from_numpy_pandas_and_spark_strings():
    t = base()
    want = sash.window_agg(t, time="ts", every="1m", by="key", aggs=["count() as n"])
    for every in (np.timedelta64(1, "m"), np.timedelta64(60_000_000_000, "ns"), pd.Timedelta(minutes=1), "1 minute", "60 Seconds"):
        assert sash.window_agg(t, time="ts", every=every, by="key", aggs=["count() as n"]).equals(want), every
    # pandas keeps nanoseconds that datetime.timedelta would drop.
    ns = pa.table({"ts": pa.array([0, 60, 61, 200], pa.timestamp("ns"))})
    assert sash.window_agg(ns, time="ts", every=pd.Timedelta(61, "ns"), aggs=["count() as n"])["n"].to_pylist() == [2, 1, 1]
    with pytest.raises(ValueError, match="NaT"):
        sash.window_agg(t, time="ts", every=np.timedelta64("NaT"), aggs=["count()"])


def test_null_time_drop_metadata():
    t = pa.table({"ts": pa.array([0, None, 5], pa.timestamp("s")), "v": [1, 2, 3]})
    with pytest.raises(sash.NullTimeError, match="1 null"):
        sash.window_agg(t, time="ts", every="10s", aggs=["count()"])
    out = sash.window_agg(t, time="ts", every="10s", aggs=["count()"], null_time="drop")
    assert out.schema.metadata[b"sash.dropped_null_times"] == b"1"


def test_output_schemas_are_never_mixed_up():
    # The binding keeps the pyarrow schemas of recent outputs: outputs that
    # differ only in metadata, nullability or a type must each get their own.
    def with_nulls(k):
        return pa.table({"ts": pa.array([0, *[None] * k, 5], pa.timestamp("s")), "v": [1] * (k + 2)})

    for k in (1, 2, 1, 3):
        for op in (sash.window_agg, sash.rolling):
            spec = {"every": "10s"} if op is sash.window_agg else {"period": "10s"}
            out = op(with_nulls(k), time="ts", aggs=["count() as n"], null_time="drop", **spec)
            assert out.schema.metadata[b"sash.dropped_null_times"] == str(k).encode()
    for values in ([1, 2], [1.0, 2.0], [1, None], ["a", "b"]):
        t = pa.table({"ts": pa.array([0, 5], pa.timestamp("s")), "v": values})
        out = sash.window_agg(t, time="ts", every="10s", aggs=["min(v) as m"])
        assert out.schema.field("m").type == t.schema.field("v").type
        assert out["m"].to_pylist() == [min(v for v in values if v is not None)]
    # More distinct schemas than are kept, then the first again.
    for i in range(40):
        t = pa.table({"ts": pa.array([0], pa.timestamp("s")), f"v{i}": [i]})
        out = sash.window_agg(t, time="ts", every="10s", aggs=[f"sum(v{i}) as s{i}"])
        assert out.column_names[-1] == f"s{i}" and out[f"s{i}"].to_pylist() == [i]


def test_errors_subclass_builtins_and_keep_the_message():
    t = base()
    with pytest.raises(TypeError) as info:
        sash.window_agg(pa.table({"ts": ["a"]}), time="ts", every="1m", aggs=["count()"])
    assert isinstance(info.value, sash.WrongTypeError) and info.value.kind == "wrong_type"
    assert str(info.value).startswith("column 'ts' has type Utf8, expected ")
    with pytest.raises(sash.UnknownColumnError) as info:
        sash.window_agg(t, time="ts", every="1m", aggs=["mean(latency)"])
    assert str(info.value) == "unknown column 'latency'; the input has: ts, key, val"
    assert issubclass(sash.SashOverflowError, OverflowError)
    assert all(issubclass(getattr(sash, n), sash.SashError) for n in sash.__all__ if n.endswith("Error"))


def test_panic_becomes_internal_error():
    with pytest.raises(sash.InternalError, match="boom") as info:
        sash._sash._panic("boom")
    assert isinstance(info.value, RuntimeError) and info.value.kind == "internal"
    # The interpreter and the module still work afterwards.
    assert sash.window_agg(base(), **WINDOW).equals(EXPECTED_WINDOW)


def test_threads_run_in_parallel_safely():
    n = 1_000_000
    rng = np.random.default_rng(1)
    t = pa.table({"ts": pa.array(np.sort(rng.integers(0, 10**9, n)), pa.timestamp("ms")),
                  "key": rng.integers(0, 100, n), "val": rng.random(n)})
    want = sash.window_agg(t, **WINDOW)
    results = [None] * 4

    def work(i):
        results[i] = sash.window_agg(t, **WINDOW)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all(r.equals(want) for r in results)


def test_version():
    assert isinstance(sash.__version__, str) and sash.__version__.count(".") == 2


def test_a_stream_of_zero_batches_gives_an_empty_result_with_its_schema():
    schema = pa.schema([("ts", pa.timestamp("ms")), ("k", pa.int32()), ("v", pa.int64())])
    empty = lambda: pa.RecordBatchReader.from_batches(schema, [])  # noqa: E731
    rolled = sash.rolling(empty(), time="ts", period="5m", by="k", aggs=["sum(v) as s", "mean(v) as m"])
    assert rolled.num_rows == 0
    assert rolled.schema.names == ["ts", "k", "v", "s", "m"]
    assert rolled.schema.field("s").type == pa.int64() and rolled.schema.field("m").type == pa.float64()
    windows = sash.window_agg(empty(), time="ts", every="1m", by="k", aggs=["sum(v) as s"])
    assert windows.num_rows == 0 and windows.schema.names == ["k", "window_start", "window_end", "s"]


def test_a_key_column_of_nones_is_one_null_group():
    # pyarrow, pandas and polars type a column holding only None as Null.
    t = pa.table({"ts": pa.array(TS, pa.timestamp("ms")), "key": [None] * len(TS), "val": pa.array(VAL)})
    assert t.schema.field("key").type == pa.null()
    got = sash.window_agg(t, time="ts", every="1m", by="key", aggs=["count() as n", "sum(val) as s"])
    assert got.schema.field("key").type == pa.null()
    want = duckdb.sql("SELECT NULL AS key, time_bucket(INTERVAL 1 minute, ts) AS ws, count(*) AS n, sum(val) AS s "
                      "FROM t GROUP BY ws ORDER BY ws").to_arrow_table()
    assert got.column("n").to_pylist() == want.column("n").to_pylist()
    assert got.column("s").to_pylist() == want.column("s").to_pylist()
    assert got.column("key").null_count == got.num_rows
    rolled = sash.rolling(t.to_pandas(), time="ts", period="1m", by="key", aggs=["count() as n"])
    assert rolled.column("n").to_pylist() == sash.rolling(t.drop(["key"]), time="ts", period="1m", aggs=["count() as n"]).column("n").to_pylist()
    # Polars exports Null columns with a buffer the C Data Interface does not
    # allow, which arrow-rs alone rejects (pola-rs/polars#22934).
    frame = pl.from_arrow(t)
    assert sash.window_agg(frame, time="ts", every="1m", by="key", aggs=["count() as n", "sum(val) as s"]).equals(got)
    assert frame.equals(pl.from_arrow(t)), "the polars input is unchanged"


def test_aggregations_of_a_column_of_nones_are_null_as_in_duckdb():
    # A value column holding only None is typed Null; DuckDB and Polars
    # aggregate it to null (count to 0) instead of refusing it.
    t = pa.table({"ts": pa.array(TS, pa.timestamp("ms")), "key": pa.array([1, 2] * (len(TS) // 2) + [1] * (len(TS) % 2)),
                  "val": [None] * len(TS)})
    assert t.schema.field("val").type == pa.null()
    aggs = {"n": "count(val)", "s": "sum(val)", "m": "mean(val)", "lo": "min(val)", "hi": "max(val)", "med": "median(val)",
            "sd": "std(val)", "d": "count_distinct(val)", "by": "min_by(key, val)"}
    got = sash.window_agg(t, time="ts", every="1m", by="key", aggs=aggs)
    want = duckdb.sql("SELECT key, time_bucket(INTERVAL 1 minute, ts) AS ws, count(val) AS n, sum(val) AS s, avg(val) AS m, "
                      "min(val) AS lo, max(val) AS hi, median(val) AS med, stddev_samp(val) AS sd, count(DISTINCT val) AS d, "
                      "min_by(key, val) AS by FROM t GROUP BY ALL ORDER BY ws, key").to_arrow_table()
    assert got.num_rows == want.num_rows > 1
    for name in aggs:
        assert got.column(name).to_pylist() == want.column(name).to_pylist(), name
    assert [got.schema.field(n).type for n in ("n", "s", "m", "lo", "by")] == [pa.int64(), pa.int64(), pa.float64(), pa.null(), pa.int64()]
    rolled = sash.rolling(pl.from_arrow(t), time="ts", period="1m", by="key", aggs=aggs)
    assert rolled.column("n").to_pylist() == [0] * len(TS)
    assert all(rolled.column(name).null_count == len(TS) for name in aggs if name not in ("n", "d"))
