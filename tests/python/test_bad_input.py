"""The bad-input table of the Python API: each row one hostile or wrong
input, the exception it must raise and a word of its message. The process
surviving every row (the next row running) is the other half of the check.
Then Ctrl-C: every long call stops with KeyboardInterrupt, soon.
"""
import datetime as dt
import gzip
import os
import signal
import tempfile
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import sash

LOGS = Path(__file__).resolve().parents[1] / "data" / "logs"
ACCESS = LOGS / "apache_combined_10k.log"

T = pa.table({"ts": pa.array([0, 30_000, 61_000, 90_000], pa.timestamp("ms")), "k": [1, 1, 2, 2], "v": [1.0, 3.0, 5.0, 7.0]})


def win(**spec):
    spec.setdefault("time", "ts")
    spec.setdefault("aggs", ["count()"])
    return lambda: sash.window_agg(T, **spec)


def roll(**spec):
    spec.setdefault("time", "ts")
    spec.setdefault("aggs", ["count()"])
    return lambda: sash.rolling(T, **spec)


def gzip_of_newlines(n):
    """n newlines, gzip-compressed, made a megabyte at a time."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\n" * (1 << 20)
    parts = [z.compress(chunk) for _ in range(n >> 20)]
    parts.append(z.compress(b"\n" * (n & ((1 << 20) - 1))))
    parts.append(z.flush())
    return b"".join(parts)


def failing_reader():
    schema = pa.schema([("ts", pa.timestamp("ms")), ("v", pa.int64())])

    def batches():
        yield pa.record_batch([pa.array([0], pa.timestamp("ms")), pa.array([1])], schema=schema)
        raise ZeroDivisionError("the producer divided by zero")

    return pa.RecordBatchReader.from_batches(schema, batches())


def read_twice():
    reader = pa.RecordBatchReader.from_batches(T.schema, T.to_batches())
    assert sash.window_agg(reader, time="ts", every="1m", aggs=["count()"]).num_rows == 2
    sash.window_agg(reader, time="ts", every="1m", aggs=["count()"])


def nested_json_line():
    line = '{"a":' + "[" * 200_000 + "]" * 200_000 + "}"
    out = sash.parse(['{"a": 1}', line], "json", schema=[{"name": "a", "type": "int64"}])
    errors = out.column("_error").to_pylist()
    assert errors[0] is None and "nested deeper than 128 levels" in errors[1]
    raise LookupError("ok: one error row")  # the row's expected outcome


def epoch_out_of_range():
    out = sash.parse(["ts=99999999999999999999"], "logfmt", fields={"ts": {"type": "timestamp", "format": "epoch_s"}})
    raise LookupError(out.column("_error")[0].as_py())


DUP = pa.Table.from_arrays([pa.array([0, 1], pa.timestamp("ms")), pa.array([1, 2]), pa.array([3, 4])], names=["ts", "v", "v"])
WS = pa.table({"ts": pa.array([0, 1], pa.timestamp("ms")), "window_start": [1, 2]})

def stream_push_another_schema():
    stream = sash.WindowStream(time="ts", every="1m", aggs=["count()"])
    stream.push(T)
    stream.push(WS)


def stream_push_after_finish():
    stream = sash.WindowStream(time="ts", every="1m", aggs=["count()"])
    stream.finish()
    stream.push(T)


ROWS = [
    # (name, call, exception, word of the message)
    ("every is no duration", win(every="1x"), sash.InvalidDurationError, "unit"),
    ("a unit twice", win(every="1h1h"), sash.InvalidDurationError, "twice"),
    ("months as text", win(every="1M"), sash.InvalidDurationError, "'M'"),
    ("months through NumPy", win(every=np.timedelta64(1, "M")), sash.InvalidDurationError, "calendar"),
    ("years through NumPy", win(every=np.timedelta64(1, "Y")), sash.InvalidDurationError, "calendar"),
    ("NaT through NumPy", win(every=np.timedelta64("NaT")), ValueError, "NaT"),
    ("a fraction", win(every="1.5h"), sash.InvalidDurationError, "fraction"),
    ("a negative every", win(every="-5m"), sash.InvalidSpecError, "positive"),
    ("a zero timedelta", win(every=dt.timedelta(0)), sash.InvalidSpecError, "positive"),
    ("a count on a timestamp, not echoed as 10i", win(every="10"), sash.InvalidDurationError, "'10'"),
    ("an integer past 64 bits", win(every=2**70), sash.InvalidDurationError, "large"),
    ("1ms hops over 1000 days", win(every="1ms", period="1000d"), sash.ResourceLimitError, "windows"),
    ("a misspelled keyword", win(every="1m", colsed="left"), sash.InvalidSpecError, "colsed"),
    ("an option given as None", win(every="1m", offset=None, extra_thing=None), sash.InvalidSpecError, "None"),
    ("an alias inside an aggs mapping", win(every="1m", aggs={"m": "mean(v) as y"}), sash.InvalidSpecError, "drop the 'as'"),
    ("one alias twice", win(every="1m", aggs=["count() as n", "sum(v) as n"]), sash.InvalidSpecError, "twice"),
    ("an aggregation named window_end", win(every="1m", aggs=["count() as window_end"]), sash.InvalidSpecError, "window_end"),
    ("no aggregation", win(every="1m", aggs=[]), sash.InvalidSpecError, "empty"),
    ("an unknown function", win(every="1m", aggs=["frobnicate(v)"]), sash.UnknownFunctionError, "frobnicate"),
    ("an unclosed call", win(every="1m", aggs=["mean(v"]), sash.InvalidExpressionError, "mean(v"),
    ("a quantile past 1", win(every="1m", aggs=["quantile(v, 1.5)"]), sash.InvalidExpressionError, "[0, 1]"),
    ("an unknown column", win(every="1m", aggs=["mean(latency)"]), sash.UnknownColumnError, "latency"),
    ("a float time column", win(time="v", every="1m"), sash.WrongTypeError, "v"),
    ("the sum of timestamps", win(every="1m", aggs=["sum(ts)"]), sash.WrongTypeError, "ts"),
    ("a list as a key", win(every="1m", by=[["k"]]), sash.InvalidSpecError, "by"),
    ("an offset for sessions", win(session_gap="1m", offset="1s"), sash.InvalidSpecError, "offset"),
    ("two columns named v", lambda: sash.window_agg(DUP, time="ts", every="1m", aggs=["sum(v)"]), sash.InvalidInputError, "2 columns named 'v'"),
    (
        "a key named window_start",
        lambda: sash.window_agg(WS, time="ts", every="1m", by="window_start", aggs=["count()"]),
        sash.InvalidSpecError,
        "window_start",
    ),
    ("a rolling output named like an input", roll(period="1m", aggs=["sum(v) as v"]), sash.InvalidSpecError, "'v'"),
    ("a rolling period of 0 rows", roll(period="0i"), sash.InvalidSpecError, "positive"),
    ("a rolling period of months", roll(period="1 month"), sash.InvalidDurationError, "calendar"),
    ("null times under null_time=error", lambda: sash.window_agg(pa.table({"ts": pa.array([0, None], pa.timestamp("ms"))}), time="ts", every="1m", aggs=["count()"]), sash.NullTimeError, "null"),
    ("a string as data", lambda: sash.window_agg("ts,v\n1,2", time="ts", every="1m", aggs=["count()"]), TypeError, "Arrow object"),
    ("None as data", lambda: sash.window_agg(None, time="ts", every="1m", aggs=["count()"]), TypeError, "Arrow object"),
    ("a producer that raises keeps its exception", lambda: sash.window_agg(failing_reader(), time="ts", every="1m", aggs=["count()"]), ZeroDivisionError, "divided by zero"),
    ("a reader passed twice", read_twice, sash.InvalidInputError, "already read"),
    ("sum overflow", lambda: sash.window_agg(pa.table({"ts": pa.array([0, 1], pa.timestamp("ms")), "v": pa.array([2**62, 2**62])}), time="ts", every="1m", aggs=["sum(v)"]), sash.SashOverflowError, "overflow"),
    # parsing
    ("an unknown format", lambda: sash.parse(["x"], "nginx2"), sash.InvalidSpecError, "nginx2"),
    ("a format that is no string", lambda: sash.parse(["x"], 7), sash.InvalidSpecError, "format"),
    ("regex without a pattern", lambda: sash.parse(["x"], "regex"), sash.InvalidSpecError, "pattern"),
    ("a broken regex", lambda: sash.parse(["x"], "regex", pattern="(?P<a>["), sash.InvalidSpecError, "regex"),
    ("json without a schema", lambda: sash.parse(["{}"], "json"), sash.InvalidSpecError, "schema"),
    ("an empty logfmt field name", lambda: sash.parse(["a=1"], "logfmt", fields={"": "int"}), sash.InvalidSpecError, "empty name"),
    ("an unknown field type", lambda: sash.parse(["a=1"], "logfmt", fields={"a": "quux"}), sash.InvalidSpecError, "quux"),
    ("an unknown time zone", lambda: sash.parse(["x"], "syslog", timezone="Mars/Olympus"), sash.InvalidSpecError, "Mars"),
    ("strings=None", lambda: sash.parse(["x"], "common", strings=None), sash.InvalidSpecError, "None"),
    ("max_line_bytes 0", lambda: sash.parse(["x"], "common", max_line_bytes=0), sash.InvalidSpecError, "max_line_bytes"),
    ("max_decompressed_bytes -1", lambda: sash.parse(b"x", "common", max_decompressed_bytes=-1), sash.InvalidSpecError, "max_decompressed_bytes"),
    ("an option misspelled", lambda: sash.parse(["x"], "common", on_eror="raise"), sash.InvalidSpecError, "on_eror"),
    ("an int array of lines", lambda: sash.parse(pa.array([1, 2]), "common"), sash.WrongTypeError, "Utf8"),
    ("a str of lines", lambda: sash.parse("one line", "common"), TypeError, "lines"),
    ("gzip magic, then garbage", lambda: sash.parse(b"\x1f\x8bthis is no gzip", "common"), sash.InvalidInputError, "gzip"),
    ("a gzip bomb past a small bound", lambda: sash.parse(gzip_of_newlines(1 << 16), "common", max_decompressed_bytes=1000), sash.ResourceLimitError, "max_decompressed_bytes"),
    ("a gzip bomb past the default bound", lambda: sash.parse(gzip_of_newlines((256 << 20) + 1), "common"), sash.ResourceLimitError, "268435456"),
    ("a JSON line nested 200,000 deep", nested_json_line, LookupError, "ok: one error row"),
    ("an epoch past 64 bits", epoch_out_of_range, LookupError, "out of range"),
    ("on_error=raise", lambda: sash.parse(["x=1", "oops"], "regex", pattern=r"^x=(?P<x>\d+)$", on_error="raise"), sash.ParseError, "line 2"),
    # read_log
    ("a file that is not there", lambda: sash.read_log("/nonexistent/x.log", "common"), FileNotFoundError, "nonexistent"),
    ("a directory", lambda: sash.read_log(str(LOGS), "common"), IsADirectoryError, "logs"),
    ("a directory, in batches", lambda: sash.read_log(str(LOGS), "common", batch_size=10), IsADirectoryError, "logs"),
    ("batch_size=True", lambda: sash.read_log(ACCESS, "combined", batch_size=True), ValueError, "positive integer"),
    ("batch_size=-1", lambda: sash.read_log(ACCESS, "combined", batch_size=-1), ValueError, "positive integer"),
    ("batch_size=0", lambda: sash.read_log(ACCESS, "combined", batch_size=0), ValueError, "positive integer"),
    ("batch_size='10'", lambda: sash.read_log(ACCESS, "combined", batch_size="10"), TypeError, "batch_size"),
    ("a path with a NUL byte", lambda: sash.read_log("/tmp/a\0b", "common"), ValueError, "NUL"),
    # streams
    ("a stream push with another schema than the first", stream_push_another_schema, sash.InvalidInputError, "first push"),
    ("a stream push after finish", stream_push_after_finish, sash.InvalidInputError, "finish"),
    ("a stream restored from garbage after the magic",
     lambda: sash.WindowStream.restore(b"SASHSNAP and then nothing a snapshot holds"), sash.InvalidInputError, "snapshot"),
    ("a rolling stream restored from no bytes", lambda: sash.RollingStream.restore(b""), sash.InvalidInputError, "snapshot"),
    ("a stream with a negative lateness", lambda: sash.WindowStream(time="ts", every="1m", aggs=["count()"], lateness="-5s"),
     sash.InvalidSpecError, "lateness"),
]


@pytest.mark.parametrize("name, call, exception, word", ROWS, ids=[r[0] for r in ROWS])
def test_bad_input(name, call, exception, word):
    with pytest.raises(exception) as info:
        call()
    assert word in str(info.value), f"{name}: {info.value!r}"


def test_the_table_is_long_enough():
    assert len(ROWS) >= 60


def test_every_error_kind_has_its_own_class():
    kinds = sash._sash._error_kinds()
    assert {k for k, _ in kinds} >= {"resource_limit", "cancelled", "unknown_column"}
    classes = {}
    for kind, name in kinds:
        assert name is not None, f"no exception class for the kind {kind}"
        cls = getattr(sash, name)
        assert issubclass(cls, sash.SashError) and cls.kind == kind
        classes[kind] = cls
    assert len(set(classes.values())) == len(kinds)


# --------------------------------------------------------------------------
# Ctrl-C: a SIGINT sent to the main thread while a long call runs stops it
# with KeyboardInterrupt, as it would stop Python code.
# --------------------------------------------------------------------------


def interrupt_after(seconds):
    """Sends SIGINT to the main thread after `seconds`, then again every
    second until cancelled: a call that missed the first one fails the
    timing check instead of hanging the suite. Returns when it was first sent."""
    sent = {}
    main = threading.main_thread().ident
    cancelled = threading.Event()

    def fire():
        if cancelled.wait(seconds):
            return
        sent["at"] = time.monotonic()
        while True:
            signal.pthread_kill(main, signal.SIGINT)
            if cancelled.wait(1.0):
                return

    class Timer:
        def cancel(self):
            cancelled.set()

    threading.Thread(target=fire, daemon=True).start()
    return Timer(), sent


def assert_interrupted_soon(call, *, after=0.3, budget=0.1):
    # Python raises KeyboardInterrupt on SIGINT only when SIGINT was not
    # ignored when it started; a shell running tests in the background
    # starts them with it ignored. Install Python's handler for the call.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer, sent = interrupt_after(after)
    try:
        with pytest.raises(KeyboardInterrupt):
            call()
        stopped = time.monotonic()
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert "at" in sent, "the call ended before the interrupt: make it longer"
    # The issue asks for 100 ms; CI machines are shared, so a little slack.
    assert stopped - sent["at"] < budget * 2.5, f"stopped {stopped - sent['at']:.3f} s after Ctrl-C"
    return stopped - sent["at"]


def test_ctrl_c_stops_a_long_rolling_call():
    n = 60_000
    t = pa.table({"ts": pa.array(np.arange(n), pa.timestamp("s")), "v": np.random.default_rng(1).integers(0, 1000, n)})
    # approx_count_distinct feeds each row's sketch its whole window (a
    # sketch cannot take a value out): seconds of work on these rows.
    assert_interrupted_soon(lambda: sash.rolling(t, time="ts", period="3000i", aggs=["approx_count_distinct(v)"]))
    # The process goes on, and so do later calls.
    assert sash.rolling(t.slice(0, 10), time="ts", period="3i", aggs=["count_distinct(v)"]).num_rows == 10


def test_ctrl_c_stops_reading_an_endless_file_in_batches_and_whole():
    reader = sash.read_log("/dev/zero", "combined", batch_size=10)
    assert_interrupted_soon(lambda: next(iter(reader)))
    # Read whole, /dev/zero fills memory at gigabytes a second: stop it soon.
    assert_interrupted_soon(lambda: sash.read_log("/dev/zero", "combined"), after=0.1)


def test_ctrl_c_stops_waiting_for_a_fifo_writer():
    fifo = os.path.join(tempfile.mkdtemp(), "log.fifo")
    os.mkfifo(fifo)
    assert_interrupted_soon(lambda: sash.read_log(fifo, "combined"))
    assert_interrupted_soon(lambda: sash.read_log(fifo, "combined", batch_size=5))


def test_a_stream_interrupted_goes_on_where_it_stopped():
    # A FIFO that gets half a file, then waits: Ctrl-C stops the read; the
    # writer then sends the rest, and reading again yields every line once.
    fifo = os.path.join(tempfile.mkdtemp(), "log.fifo")
    os.mkfifo(fifo)
    text = ACCESS.read_bytes()
    half = text.index(b"\n", len(text) // 2) + 1
    go_on = threading.Event()

    def write():
        with open(fifo, "wb") as w:
            w.write(text[:half])
            w.flush()
            go_on.wait(10)
            w.write(text[half:])

    writer = threading.Thread(target=write)
    writer.start()
    try:
        reader = iter(sash.read_log(fifo, "combined", batch_size=100_000))
        assert_interrupted_soon(lambda: next(reader), after=0.5)
        go_on.set()
        got = pa.Table.from_batches(list(reader))
    finally:
        go_on.set()
        writer.join()
    whole = sash.read_log(ACCESS, "combined")
    assert got.num_rows == whole.num_rows
    assert got.column("path").to_pylist() == whole.column("path").to_pylist()
