"""sash.parse and sash.read_log: the shared parse corpus unchanged, the real
logs of tests/data/logs/, streaming, zero-copy proofs and memory.
"""
import base64
import datetime as dt
import gc
import json
import os
import threading
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

import sash
from corpus import CORPUS, parse_type

LOGS = Path(__file__).resolve().parents[1] / "data" / "logs"
ACCESS = LOGS / "apache_combined_10k.log"

# --------------------------------------------------------------------------
# The shared corpus (tests/conformance/parse/*.json), run as
# core/tests/integration/parse_conformance.rs runs it
# --------------------------------------------------------------------------


def load_parse_cases():
    cases = []
    for path in sorted((CORPUS / "parse").glob("*.json")):
        for case in json.loads(path.read_text())["cases"]:
            cases.append(pytest.param(case, id=f"{path.stem}/{case['name']}"))
    return cases


PARSE_CASES = load_parse_cases()

ARRAY_TYPES = {"utf8": pa.string(), "large_utf8": pa.large_string(), "utf8_view": pa.string_view(), "binary": pa.binary()}


def case_input(inp: dict):
    """The case's input as sash.parse takes it: bytes for text / bytes_base64, else an Arrow array."""
    if "text" in inp:
        return inp["text"].encode()
    if "bytes_base64" in inp:
        return base64.b64decode(inp["bytes_base64"])
    if "lines_base64" in inp:
        raw = [None if l is None else base64.b64decode(l) for l in inp["lines_base64"]]
    else:
        raw = [None if l is None else l.encode() for l in inp["lines"]]
    typ = ARRAY_TYPES[inp.get("array_type", "utf8")]
    if pa.types.is_binary(typ):
        return pa.array(raw, typ)
    return pa.array([None if b is None else b.decode() for b in raw], typ)


def ts_text(value: dt.datetime) -> str:
    if value.tzinfo is not None:  # the corpus writes UTC; a zoned value renders in its zone
        value = value.astimezone(dt.timezone.utc)
    micros = value.microsecond
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if micros:
        text += "." + f"{micros:06d}".rstrip("0")
    return text + "Z"


def cell(typ: pa.DataType, value):
    """One value as the corpus writes it (pyarrow's to_pylist value in, JSON value out)."""
    if value is None:
        return None
    if pa.types.is_timestamp(typ):
        return ts_text(value)
    if pa.types.is_map(typ):
        return {k: cell(typ.item_type, v) for k, v in value}
    if pa.types.is_struct(typ):
        return {f.name: cell(f.type, value[f.name]) for f in typ}
    if pa.types.is_list(typ) or pa.types.is_large_list(typ):
        return [cell(typ.value_type, v) for v in value]
    if pa.types.is_floating(typ) and (value != value or value in (float("inf"), float("-inf"))):
        return {"nan": "NaN", "inf": "inf", "-inf": "-inf"}[str(value)]
    return value


def column_values(table: pa.Table, name: str) -> list:
    col = table.column(name)
    return [cell(col.type, v) for v in col.to_pylist()]


def test_parse_corpus_is_whole():
    assert len(PARSE_CASES) >= 25


@pytest.mark.parametrize("case", PARSE_CASES)
def test_parse_corpus_case(case):
    assert case["op"] == "parse"
    lines = case_input(case["input"])
    if "error" in case:
        with pytest.raises(sash.SashError) as info:
            sash.parse(lines, **case["spec"])
        err = info.value
        assert err.kind == case["error"]["kind"], f"{type(err).__name__}: {err}"
        assert isinstance(err, ValueError)
        for part in case["error"].get("message_contains", []):
            assert part in str(err), f"{part!r} not in {str(err)!r}"
        return
    out = sash.parse(lines, **case["spec"])
    assert out.column_names[-1] == "_error"
    for name, want in case["expected"]["columns"].items():
        assert column_values(out, name) == want, name
    for name, t in case["expected"].get("types", {}).items():
        assert out.schema.field(name).type == parse_type(t), name


def test_parse_error_class():
    with pytest.raises(sash.ParseError) as info:
        sash.parse(["1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] \"GET / HTTP/1.1\" 200 1", "junk"], "common", on_error="raise")
    assert info.value.kind == "parse"
    assert str(info.value).startswith("line 2 does not parse: ident at byte ")
    assert issubclass(sash.ParseError, sash.SashError) and issubclass(sash.ParseError, ValueError)


def test_unknown_option_names_the_key():
    with pytest.raises(sash.InvalidSpecError, match="on_eror"):
        sash.parse(["x"], "common", on_eror="raise")


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------

LINES = [
    '1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET /a HTTP/1.1" 200 10 "-" "curl/8"',
    '5.6.7.8 - bob [10/Oct/2000:13:55:37 +0000] "POST /b HTTP/1.1" 404 - "http://x/" "ua"',
    "not a log line",
]


@pytest.mark.parametrize("make", [
    lambda: LINES,
    lambda: tuple(LINES),
    lambda: np.array(LINES),
    lambda: np.array(LINES, dtype=object),
    lambda: pa.array(LINES),
    lambda: pa.array(LINES, pa.large_string()),
    lambda: pa.array(LINES, pa.string_view()),
    lambda: pa.array([l.encode() for l in LINES], pa.binary()),
    lambda: pa.chunked_array([LINES[:1], LINES[1:]]),
    lambda: pl.Series("line", LINES),
    lambda: ("\n".join(LINES) + "\n").encode(),
], ids=["list", "tuple", "numpy-str", "numpy-object", "utf8", "large_utf8", "utf8_view", "binary", "chunked", "polars", "bytes"])
def test_every_input_kind_gives_the_same_rows(make):
    lines = make()
    out = sash.parse(lines, "combined")
    assert out.num_rows == 3
    assert out.column("path").to_pylist() == ["/a", "/b", None]
    assert out.column("status").to_pylist() == [200, 404, None]
    assert out.column("user").to_pylist() == [None, "bob", "log"]  # fields before the failure are kept
    assert out.column("_error").null_count == 2


def test_nanoarrow_input():
    na = pytest.importorskip("nanoarrow")  # in requirements-dev.txt: never skipped in `make test-python`
    out = sash.parse(na.c_array(LINES, na.string()), "combined")
    assert out.column("status").to_pylist() == [200, 404, None]


def test_non_lines_raise_type_error():
    for bad in ["one string", 42, {"a": 1}, [1, 2], ["a", 2.5]]:
        with pytest.raises(sash.WrongTypeError) as info:
            sash.parse(bad, "common")
        assert isinstance(info.value, TypeError), bad


def test_input_is_unchanged_and_usable_after():
    arr = pa.array(LINES * 100)
    before = arr.to_pylist()
    out = sash.parse(arr, "combined")
    del out
    gc.collect()
    assert arr.to_pylist() == before
    arr.validate(full=True)


def test_gil_is_released_threads_agree():
    lines = pa.array(ACCESS.read_text().splitlines())
    want = sash.parse(lines, "combined")
    results = [None] * 4

    def work(i):
        results[i] = sash.parse(lines, "combined")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.equals(want) for r in results)


# --------------------------------------------------------------------------
# The real logs (tests/data/logs/README.md)
# --------------------------------------------------------------------------


def check_access_10k(t: pa.Table):
    assert t.num_rows == 10_000
    errors = t.column("_error").to_pylist()
    failed = [i for i, e in enumerate(errors) if e is not None]
    assert failed == [8_898], "only line 8,899 fails"
    msg = errors[8_898]
    assert msg.startswith("user_agent at byte ") and "no closing '\"'" in msg, msg
    row = {k: v[0] for k, v in t.slice(8_898, 1).to_pydict().items()}
    assert row["host"] == "46.118.127.106"
    assert row["path"] == "/scripts/grok-py-test/configlib.py"
    assert (row["status"], row["size"], row["referrer"], row["user_agent"]) == (200, 235, None, None)
    assert row["timestamp"] == dt.datetime(2015, 5, 20, 12, 5, 17, tzinfo=dt.timezone.utc)
    first = {k: v[0] for k, v in t.slice(0, 1).to_pydict().items()}
    assert first["host"] == "83.149.9.216" and first["ident"] is None and first["method"] == "GET"
    assert first["timestamp"] == dt.datetime(2015, 5, 17, 10, 5, 3, tzinfo=dt.timezone.utc)
    lines = ACCESS.read_text().splitlines()
    assert t.column("host").to_pylist() == [l.split(" ")[0] for l in lines]
    statuses = t.column("status").to_pylist()
    assert statuses == [int(l.split('"')[2].split()[0]) for l in lines]


def test_apache_combined_10k_through_parse():
    check_access_10k(sash.parse(pa.array(ACCESS.read_text().splitlines()), "combined"))


def test_apache_combined_10k_through_read_log():
    t = sash.read_log(ACCESS, "combined")
    assert isinstance(t, pa.Table)
    check_access_10k(t)
    assert sash.read_log(str(ACCESS), "combined").equals(t)


def test_gzip_logs_read_as_their_text(tmp_path):
    import gzip
    plain = ACCESS.read_bytes()
    packed = tmp_path / "access.log.1.gz"
    packed.write_bytes(gzip.compress(plain))
    whole = sash.read_log(ACCESS, "combined")
    assert sash.read_log(packed, "combined").equals(whole)
    assert pa.Table.from_batches(list(sash.read_log(packed, "combined", batch_size=700))).equals(whole)
    assert sash.parse(packed.read_bytes(), "combined").equals(whole)

    # Cut short: an error, after the complete lines when streaming.
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(gzip.compress(plain)[:100_000])
    with pytest.raises(sash.InvalidInputError, match=r"truncated \.gz"):
        sash.read_log(cut, "combined")
    read = []
    with pytest.raises(sash.InvalidInputError, match=r"truncated \.gz.*bytes after the last complete line were not parsed"):
        for batch in sash.read_log(cut, "combined", batch_size=500):
            read.append(batch)
    rows = sum(b.num_rows for b in read)
    assert 1000 < rows < whole.num_rows
    assert pa.Table.from_batches(read).equals(whole.slice(0, rows))


def test_apache_combined_10k_raise_names_line_8899():
    with pytest.raises(sash.ParseError, match=r"^line 8899 does not parse: user_agent at byte"):
        sash.read_log(ACCESS, "combined", on_error="raise")
    with pytest.raises(sash.ParseError, match=r"^line 8899 does not parse"):
        list(sash.read_log(ACCESS, "combined", on_error="raise", batch_size=1000))


def test_read_log_streams_batches():
    reader = sash.read_log(ACCESS, "combined", batch_size=700)
    assert isinstance(reader, pa.RecordBatchReader)
    batches = list(reader)
    assert [b.num_rows for b in batches] == [700] * 14 + [200]
    streamed = pa.Table.from_batches(batches, reader.schema)
    whole = sash.read_log(ACCESS, "combined")
    assert streamed.equals(whole.combine_chunks()) or streamed.to_pydict() == whole.to_pydict()
    check_access_10k(streamed)


def test_read_log_errors():
    # As Python's own open reports it: the errno's OSError subclass, naming the path.
    for batch_size in (None, 100):
        with pytest.raises(FileNotFoundError, match="/nonexistent/file.log") as info:
            sash.read_log("/nonexistent/file.log", "combined", batch_size=batch_size)
        assert info.value.filename == "/nonexistent/file.log" and info.value.errno == 2
    with pytest.raises(IsADirectoryError):
        sash.read_log(str(ACCESS.parent), "combined")
    with pytest.raises(sash.InvalidSpecError):
        sash.read_log(ACCESS, "nope")
    with pytest.raises(ValueError):
        sash.read_log(ACCESS, "combined", batch_size=0)


def csv_rows(name):
    import csv

    with open(LOGS / name, newline="") as f:
        return list(csv.reader(f))[1:]


MONTHS = {m: i + 1 for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}


@pytest.mark.parametrize("log,csvname,year,cols,app", [
    ("linux_2k.log", "linux_2k.structured.csv", 2005, (1, 2, 3, 4, 6, 7), 5),
    ("openssh_2k.log", "openssh_2k.structured.csv", 2017, (1, 2, 3, 4, 5, 6), "sshd"),
])
def test_syslog_agrees_with_loghub(log, csvname, year, cols, app):
    month_c, day_c, time_c, host_c, pid_c, content_c = cols
    t = sash.read_log(LOGS / log, "syslog", reference_time=f"{year}-12-31T23:59:59Z")
    truth = csv_rows(csvname)
    assert t.num_rows == len(truth)
    assert t.column("_error").null_count == t.num_rows
    d = t.to_pydict()
    for i, row in enumerate(truth):
        h, m, s = map(int, row[time_c].split(":"))
        assert d["timestamp"][i] == dt.datetime(year, MONTHS[row[month_c]], int(row[day_c]), h, m, s, tzinfo=dt.timezone.utc)
        assert d["hostname"][i] == row[host_c]
        assert (d["appname"][i] or "") == (row[app] if isinstance(app, int) else app)
        assert (d["procid"][i] or "") == row[pid_c]
        assert d["message"][i].strip() == row[content_c].strip()


def test_apache_error_agrees_with_loghub():
    t = sash.parse((LOGS / "apache_2k.log").read_bytes(), "apache_error")
    truth = csv_rows("apache_2k.structured.csv")
    assert t.num_rows == len(truth) and t.column("_error").null_count == t.num_rows
    d = t.to_pydict()
    for i, row in enumerate(truth):
        assert d["timestamp"][i] == dt.datetime.strptime(row[1], "%a %b %d %H:%M:%S %Y").replace(tzinfo=dt.timezone.utc)
        assert d["level"][i] == row[2]
        msg = d["message"][i]
        want = f"[client {d['client'][i]}] {msg}" if d["client"][i] else msg
        assert want.strip() == row[3].strip()


# --------------------------------------------------------------------------
# Zero-copy and memory
# --------------------------------------------------------------------------


def test_utf8view_columns_point_into_the_input_buffer():
    arr = pa.array(ACCESS.read_text().splitlines())
    data = arr.buffers()[2]
    lo, hi = data.address, data.address + data.size
    out = sash.parse(arr, "combined")
    for name in ["host", "path", "referrer"]:
        col = out.column(name)
        assert col.type == pa.string_view()
        for chunk in col.chunks:
            # Utf8View buffers: validity, views, then the variadic data buffers.
            # (pyarrow may also list an empty placeholder buffer: skip size 0.)
            variadic = [b for b in chunk.buffers()[2:] if b is not None and b.size > 0]
            assert variadic, f"{name} has no data buffer"
            for b in variadic:
                assert lo <= b.address and b.address + b.size <= hi, f"{name}: {b.address:#x} is not inside the input"
            # The views' data buffer is the input's own: same address, same size.
            assert [(b.address, b.size) for b in variadic] == [(data.address, data.size)], name
    longest = max(out.column("path").to_pylist(), key=lambda p: len(p or ""))
    assert len(longest) > 12


def test_utf8view_from_polars_input_points_into_its_buffer():
    s = pl.Series("line", ACCESS.read_text().splitlines()[:1000])
    out = sash.parse(s, "combined")
    # polars exports its strings as Utf8View; the parsed views must point
    # into the same data buffers polars exported (no copy on the way in).
    exported = pa.chunked_array(s)
    inputs = {(b.address) for c in exported.chunks for b in c.buffers()[2:] if b is not None and b.size > 0}
    col = out.column("user_agent")
    used = {b.address for c in col.chunks for b in c.buffers()[2:] if b is not None and b.size > 0}
    assert used and used <= inputs


def test_utf8view_from_chunked_input_points_into_its_buffers():
    chunked = pa.chunked_array([pa.array(LINES[:2] * 50), pa.array(LINES * 50)])
    ranges = [(c.buffers()[2].address, c.buffers()[2].address + c.buffers()[2].size) for c in chunked.chunks]
    out = sash.parse(chunked, "combined")
    col = out.column("user_agent")
    assert col.num_chunks == 2
    for chunk in col.chunks:
        for b in chunk.buffers()[2:]:
            if b is not None and b.size > 0:
                assert any(lo <= b.address and b.address + b.size <= hi for lo, hi in ranges)


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_rss_flat_across_many_parse_calls():
    lines = pa.array(ACCESS.read_text().splitlines()[:200])
    raw = b"\n".join(l.encode() for l in ACCESS.read_text().splitlines()[:50])

    def calls(n):
        for _ in range(n):
            sash.parse(lines, "combined")
            sash.parse(raw, "combined")
            sash.parse(["a=1", "b"], "logfmt", fields={"a": "int"})
            try:
                sash.parse(["x"], "common", on_error="raise")
            except sash.ParseError:
                pass

    calls(500)  # warm up allocator pools
    gc.collect()
    before = rss()
    calls(5_000)
    gc.collect()
    after = rss()
    assert after <= before * 1.05, f"RSS grew from {before} to {after} bytes"


def test_rss_flat_across_many_streamed_reads():
    def calls(n):
        for _ in range(n):
            for _ in sash.read_log(ACCESS, "combined", batch_size=5000):
                pass

    calls(20)
    gc.collect()
    before = rss()
    calls(200)
    gc.collect()
    after = rss()
    assert after <= before * 1.05, f"RSS grew from {before} to {after} bytes"


STREAM_PEAK = r"""
import json, sys
import sash

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024

path, mode = sys.argv[1], sys.argv[2]
sash.parse([], "combined")  # import-time allocations (pyarrow, its pandas shim) before measuring
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
base = status("VmRSS:")
rows = 0
if mode == "stream":
    for batch in sash.read_log(path, "combined", batch_size=50_000):
        rows += batch.num_rows
else:
    rows = sash.read_log(path, "combined").num_rows
print(json.dumps({"rows": rows, "extra": status("VmHWM:") - base}))
"""


def test_read_log_streaming_memory_is_bounded(tmp_path):
    import subprocess
    import sys

    text = ACCESS.read_bytes()

    def log_of(copies):
        path = tmp_path / f"big{copies}.log"
        with open(path, "wb") as f:
            for _ in range(copies):
                f.write(text)
        return path

    def peak(path, mode):
        proc = subprocess.run([sys.executable, "-c", STREAM_PEAK, str(path), mode], capture_output=True, text=True, check=True)
        return json.loads(proc.stdout)

    small, big = log_of(16), log_of(128)  # ~38 MB and ~303 MB
    s_small, s_big, whole = peak(small, "stream"), peak(big, "stream"), peak(small, "whole")
    assert (s_small["rows"], s_big["rows"], whole["rows"]) == (160_000, 1_280_000, 160_000)
    # Streaming holds about two ~16 MiB chunks and their parsed batches at a time
    # (measured 55 to 105 MB of peak growth on this machine, from run to run),
    # whatever the file size: 8x the file, the same peak.
    assert s_big["extra"] < 1.2 * s_small["extra"] + 8e6, (s_small, s_big)
    assert s_big["extra"] < 0.5 * big.stat().st_size, (s_big, big.stat().st_size)
    # The contrast: without batch_size the whole file and its columns are resident.
    assert whole["extra"] > small.stat().st_size, whole


def test_utf8view_columns_point_into_the_bytes_given():
    import ctypes
    raw = ACCESS.read_bytes()
    # The address of the bytes object's own contents (c_char_p does not copy them).
    lo = ctypes.cast(ctypes.c_char_p(raw), ctypes.c_void_p).value
    hi = lo + len(raw)
    out = sash.parse(raw, "combined")
    for name in ["host", "path", "user_agent"]:
        for chunk in out.column(name).chunks:
            variadic = [b for b in chunk.buffers()[2:] if b is not None and b.size > 0]
            assert variadic and all(lo <= b.address and b.address + b.size <= hi for b in variadic), name
    # The bytes object lives on in the output: dropping the caller's reference changes nothing.
    want = out.column("path").to_pylist()
    del raw
    import gc
    gc.collect()
    assert out.column("path").to_pylist() == want
