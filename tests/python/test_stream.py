"""sash.WindowStream: pushes of any split equal window_agg over all rows,
snapshots restore to a stream that goes on as if it never stopped, late
rows come back, and a failed push changes nothing."""

from __future__ import annotations

import pickle
from pathlib import Path
import random

import pyarrow as pa
import pytest

import sash

AGGS = ["count() as n", "sum(v) as s", "min(v) as lo", "first(v) as f", "median(v) as med", "count_distinct(k) as cd"]


def events(rng: random.Random, rows: int, disorder: int) -> pa.Table:
    t, ts = 0, []
    for _ in range(rows):
        t += rng.randrange(4)
        ts.append(max(0, t - rng.randint(0, disorder)))
    keys = [rng.choice(["a", "b", None]) for _ in range(rows)]
    values = [None if rng.randrange(8) == 0 else float(rng.randrange(-50, 50)) for _ in range(rows)]
    return pa.table({"ts": pa.array(ts, pa.int64()), "k": pa.array(keys, pa.string()), "v": pa.array(values, pa.float64())})


def canonical(table: pa.Table) -> list[tuple]:
    rows = table.to_pylist()
    return sorted((tuple((k, repr(v)) for k, v in row.items()) for row in rows))


@pytest.mark.parametrize("seed", range(12))
def test_pushes_of_any_split_equal_window_agg(seed: int) -> None:
    rng = random.Random(seed)
    disorder = rng.randrange(5)
    table = events(rng, rng.randrange(1, 300), disorder)
    window = [{"every": 10}, {"every": 4, "period": 10}, {"session_gap": 1 + seed % 6}][seed % 3]
    want = sash.window_agg(table, time="ts", by="k", aggs=AGGS, **window)
    stream = sash.WindowStream(time="ts", by="k", aggs=AGGS, lateness=disorder, **window)
    out, at = [], 0
    while at < table.num_rows:
        n = rng.randint(0, 40)
        out.append(stream.push(table.slice(at, n)))
        at += n
        if rng.random() < 0.3:
            # Through a snapshot (and pickle): the stream goes on as if it never stopped.
            stream = pickle.loads(pickle.dumps(stream))
    out.append(stream.finish())
    assert stream.stats["rows_late"] == 0
    got = pa.concat_tables([t for t in out if t.num_rows] or [want.slice(0, 0)])
    assert canonical(got) == canonical(want)


def test_late_rows_come_back_and_windows_close_as_the_watermark_passes() -> None:
    stream = sash.WindowStream(time="ts", every=10, aggs=["count() as n"], lateness=2)
    assert stream.push(pa.table({"ts": [1, 5, 11]})).num_rows == 0
    assert stream.watermark == 9
    assert stream.push(pa.table({"ts": [12]})).to_pydict() == {"window_start": [0], "window_end": [10], "n": [2]}
    stream.push(pa.table({"ts": [3, 15]}))
    assert stream.take_late().to_pydict() == {"ts": [3]}
    assert stream.stats["rows_late"] == 1
    assert stream.advance(20).to_pydict()["n"] == [3]
    restored = sash.WindowStream.restore(stream.snapshot())
    assert restored.snapshot() == stream.snapshot()
    assert stream.finish().num_rows == 0
    with pytest.raises(sash.InvalidInputError, match="finished"):
        stream.push(pa.table({"ts": [30]}))


def test_advance_takes_values_of_the_time_columns_kind() -> None:
    import datetime as dt

    import numpy as np
    import pandas as pd

    utc = dt.timezone.utc
    stream = sash.WindowStream(time="ts", every="1h", aggs=["count() as n"])
    with pytest.raises(sash.InvalidInputError, match="push first"):
        stream.advance(dt.datetime(2024, 1, 1, tzinfo=utc))
    times = pa.array([dt.datetime(2024, 1, 1, h, 30, tzinfo=utc) for h in range(4)], pa.timestamp("ms", "UTC"))
    stream.push(pa.table({"ts": times.slice(0, 1)}))
    hour = dt.datetime(2024, 1, 1, 1, tzinfo=utc)
    assert stream.advance(hour).to_pydict()["n"] == [1]
    assert stream.watermark == int(hour.timestamp() * 1000)
    stream.push(pa.table({"ts": times.slice(1, 1)}))
    assert stream.advance(pd.Timestamp("2024-01-01 02:00", tz="UTC")).to_pydict()["n"] == [1]
    stream.push(pa.table({"ts": times.slice(2, 1)}))
    assert stream.advance(np.datetime64("2024-01-01T03:00:00.000000", "us")).to_pydict()["n"] == [1]
    stream.push(pa.table({"ts": times.slice(3, 1)}))
    assert stream.advance(int(dt.datetime(2024, 1, 1, 4, tzinfo=utc).timestamp() * 1000)).to_pydict()["n"] == [1]
    assert stream.advance(dt.date(2024, 1, 1)).num_rows == 0, "never back"
    with pytest.raises(sash.WrongTypeError):
        stream.advance("soon")
    with pytest.raises(TypeError):
        stream.advance(object())


def test_sessions_close_once_the_watermark_reaches_their_last_time_plus_the_gap() -> None:
    stream = sash.WindowStream(time="ts", session_gap=5, aggs=["count() as n"], lateness=1)
    assert stream.push(pa.table({"ts": [1, 3]})).num_rows == 0
    assert stream.push(pa.table({"ts": [2, 10]})).to_pydict() == {"window_start": [1], "window_end": [8], "n": [3]}
    stream.push(pa.table({"ts": [8]}))
    assert stream.take_late().to_pydict() == {"ts": [8]}
    assert stream.finish().to_pydict() == {"window_start": [10], "window_end": [15], "n": [1]}


def test_a_failed_push_changes_nothing() -> None:
    stream = sash.WindowStream(time="ts", every=10, aggs=["sum(v) as s"])
    stream.push(pa.table({"ts": [1, 2], "v": [1.0, 2.0]}))
    before = stream.snapshot()
    with pytest.raises(sash.NullTimeError):
        stream.push(pa.table({"ts": pa.array([30, None], pa.int64()), "v": [1.0, 2.0]}))
    with pytest.raises(sash.InvalidInputError, match="schema of the first push"):
        stream.push(pa.table({"ts": [40]}))
    assert stream.snapshot() == before
    assert stream.finish().to_pydict()["s"] == [3.0]


def test_bad_specs_and_snapshots_are_errors() -> None:
    with pytest.raises(sash.InvalidSpecError, match="colsed"):
        sash.WindowStream(time="ts", every=10, aggs=["count()"], colsed="left")
    with pytest.raises(sash.InvalidSpecError, match="lateness"):
        sash.WindowStream(time="ts", every=10, aggs=["count()"], lateness=-1)
    with pytest.raises(sash.InvalidInputError, match="snapshot"):
        sash.WindowStream.restore(b"garbage")
    stream = sash.WindowStream(time="ts", every=10, aggs=["count()"])
    stream.push(pa.table({"ts": [1]}))
    good = stream.snapshot()
    for cut in range(0, len(good), 7):
        with pytest.raises(sash.SashError):
            sash.WindowStream.restore(good[:cut])


GOLDEN = Path(__file__).resolve().parents[1] / "data" / "streams"


def test_the_golden_snapshots_restore_and_the_latest_is_what_this_version_writes() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_golden", GOLDEN / "make_golden.py")
    make_golden = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_golden)
    latest = make_golden.golden()
    assert make_golden.version(latest) == 2
    assert (GOLDEN / "window_stream_v2.snap").read_bytes() == latest, "format version 2 must stay byte for byte what it was"
    for name in ["window_stream_v1.snap", "window_stream_v2.snap"]:
        stream = sash.WindowStream.restore((GOLDEN / name).read_bytes())
        # An earlier version restores to the same stream: its snapshot is the latest format's.
        assert stream.snapshot() == latest, name
        out = stream.finish().to_pydict()
        assert out["key"] == ["a", "b", "a"] and out["n"] == [2, 1, 1] and out["s"] == [5.0, 2.0, 3.0], name


@pytest.mark.parametrize("seed", range(8))
def test_rolling_stream_pushes_of_any_split_equal_rolling(seed: int) -> None:
    rng = random.Random(100 + seed)
    disorder = rng.randrange(5)
    table = events(rng, rng.randrange(1, 250), disorder)
    table = table.append_column("id", pa.array(range(table.num_rows), pa.int64()))
    period = [7, "3i", 12][seed % 3]
    closed = ["right", "left", "both", "none"][seed % 4]
    aggs = ["count() as n", "sum(v) as s", "min(v) as lo", "median(v) as med", "last(v) as l"]
    want = sash.rolling(table, time="ts", period=period, by="k", aggs=aggs, closed=closed)
    stream = sash.RollingStream(time="ts", period=period, by="k", aggs=aggs, closed=closed, lateness=disorder)
    out, at = [], 0
    while at < table.num_rows:
        n = rng.randint(0, 40)
        out.append(stream.push(table.slice(at, n)))
        at += n
        if rng.random() < 0.3:
            stream = pickle.loads(pickle.dumps(stream))
    out.append(stream.finish())
    assert stream.stats["rows_late"] == 0
    got = pa.concat_tables([t for t in out if t.num_rows] or [want.slice(0, 0)])
    key = lambda row: (row["ts"], row["id"])  # noqa: E731
    assert sorted(got.to_pylist(), key=key) == sorted(want.to_pylist(), key=key)


def test_rolling_stream_late_rows_and_bad_snapshots() -> None:
    stream = sash.RollingStream(time="ts", period=5, aggs=["count() as n"], lateness=1)
    assert stream.push(pa.table({"ts": [1, 3]})).to_pydict() == {"ts": [1], "n": [1]}
    stream.push(pa.table({"ts": [0]}))
    assert stream.take_late().to_pydict() == {"ts": [0]}
    assert stream.stats["rows_late"] == 1
    with pytest.raises(sash.InvalidInputError, match="RollingStream snapshot"):
        sash.RollingStream.restore(sash.WindowStream(time="ts", every=10, aggs=["count()"]).snapshot())
    with pytest.raises(sash.InvalidSpecError):
        sash.RollingStream(time="ts", period=5, aggs=["count()"], lateness=-1)
    assert stream.finish().to_pydict() == {"ts": [3], "n": [2]}
