"""The ``sash`` console script the wheel installs: every subcommand on the
real logs, every output format read back with pyarrow and compared with what
``sash.read_log``, ``sash.window_agg`` and ``sash.rolling`` give."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.ipc as ipc
import pyarrow.json as pajson
import pyarrow.parquet as pq
import pytest

import sash

LOGS = Path(__file__).resolve().parents[1] / "data" / "logs"
COMBINED = LOGS / "apache_combined_10k.log"
SASH = Path(sys.executable).parent / "sash"


def run(*args, cwd, check=0):
    proc = subprocess.run([str(SASH), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == check, proc.stderr
    return proc


def parsed_rows(path, fmt, **options):
    """The rows that parsed, without ``_error`` (what ``sash window`` aggregates)."""
    table = sash.read_log(path, fmt, strings="utf8", **options)
    table = table.filter(pc.is_null(table["_error"]))
    return table.drop_columns(["_error"])


def views_as_strings(table):
    fields = [pa.field(f.name, pa.string() if f.type == pa.string_view() else f.type) for f in table.schema]
    return table.cast(pa.schema(fields))


def test_the_wheel_installs_the_command():
    proc = subprocess.run([str(SASH), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert "parse" in proc.stdout and "window" in proc.stdout and "Exit status" in proc.stdout
    version = subprocess.run([str(SASH), "--version"], capture_output=True, text=True).stdout.strip()
    assert version == f"sash {sash.__version__}"


@pytest.mark.parametrize("log, fmt", [
    ("apache_combined_10k.log", "combined"),
    ("linux_2k.log", "syslog"),
    ("openssh_2k.log", "syslog"),
    ("apache_2k.log", "apache_error"),
])
def test_parse_writes_what_read_log_gives_in_every_format(tmp_path, log, fmt):
    options = {"reference_time": "2024-06-01T00:00:00Z"} if fmt == "syslog" else {}
    want = sash.read_log(LOGS / log, fmt, **options)
    extra = ["--reference-time", options["reference_time"]] if options else []
    for name in ["out.parquet", "out.arrow", "out.arrows", "out.csv", "out.jsonl"]:
        run("parse", LOGS / log, "--format", fmt, *extra, "-o", name, cwd=tmp_path)
        out = tmp_path / name
        if name.endswith(".parquet"):
            got = pq.read_table(out)
        elif name.endswith(".arrow"):
            got = feather.read_table(out)
        elif name.endswith(".arrows"):
            got = ipc.open_stream(out).read_all()
        elif name.endswith(".csv"):
            text_types = {f.name: (pa.string() if f.type == pa.string_view() else f.type) for f in want.schema}
            got = pacsv.read_csv(out, convert_options=pacsv.ConvertOptions(
                column_types=text_types, strings_can_be_null=True, quoted_strings_can_be_null=False))
        else:
            got = pajson.read_json(out, parse_options=pajson.ParseOptions(explicit_schema=views_as_strings(want).schema))
        if name.endswith(".parquet"):
            assert got.schema.remove_metadata() == want.schema.remove_metadata(), name
            assert got.equals(want), name
        elif name.endswith((".arrow", ".arrows")):
            # Arrow IPC files hold plain strings (docs/cli.md).
            assert got.equals(views_as_strings(want)), name
        else:
            # Text formats: every value as text and back; nulls and empty strings may meet in CSV.
            expected = views_as_strings(want)
            assert got.num_rows == expected.num_rows, name
            for column in expected.column_names:
                a, b = got[column], expected[column]
                if name.endswith(".csv") and pa.types.is_string(b.type):
                    a, b = pc.fill_null(a, ""), pc.fill_null(b, "")
                assert a.equals(b), f"{name}: {column}"


def test_errors_file_names_every_failed_line(tmp_path):
    run("parse", COMBINED, "-f", "combined", "--errors", "bad.jsonl", "-o", "ok.parquet", cwd=tmp_path)
    want = sash.read_log(COMBINED, "combined", strings="utf8")
    failed = want.filter(pc.is_valid(want["_error"]))
    records = [json.loads(line) for line in (tmp_path / "bad.jsonl").read_text().splitlines()]
    assert [r["error"] for r in records] == failed["_error"].to_pylist()
    raw = COMBINED.read_bytes()
    lines = raw.splitlines(keepends=False)
    for r in records:
        assert r["text"] == lines[r["line"] - 1].decode()
        assert raw[r["offset"]:].startswith(lines[r["line"] - 1])
    ok = pq.read_table(tmp_path / "ok.parquet")
    assert ok.num_rows + len(records) == want.num_rows
    assert "_error" not in ok.column_names


AGGS = ["count() as requests", "sum(size) as bytes", "quantile(size, 0.95) as p95",
        "count_distinct(host) as hosts", "first(path) as first_path"]


@pytest.mark.parametrize("grid", [
    {"every": "10m"},
    {"every": "10m", "period": "1h"},
    {"session_gap": "5m"},
])
def test_window_equals_window_agg(tmp_path, grid):
    rows = parsed_rows(COMBINED, "combined")
    by = "host" if "session_gap" in grid else "status"
    want = sash.window_agg(rows, time="timestamp", by=by, aggs=AGGS, null_time="drop", **grid)
    options = [x for key, value in grid.items() for x in (f"--{key.replace('_', '-')}", value)]
    aggs = [x for agg in AGGS for x in ("--agg", agg)]
    for name in ["w.parquet", "w.arrow"]:
        run("window", COMBINED, "-f", "combined", *options, "--by", by, *aggs, "-o", name, cwd=tmp_path)
        got = pq.read_table(tmp_path / name) if name.endswith("parquet") else feather.read_table(tmp_path / name)
        assert views_as_strings(got).equals(views_as_strings(want)), name
    # The rows as a Parquet table in: the same windows.
    pq.write_table(rows, tmp_path / "rows.parquet")
    run("window", "rows.parquet", *options, "--by", by, *aggs, "-o", "w2.arrow", cwd=tmp_path)
    assert views_as_strings(feather.read_table(tmp_path / "w2.arrow")).equals(views_as_strings(want))


def test_rolling_equals_rolling_in_time_order(tmp_path):
    rows = parsed_rows(COMBINED, "combined")
    aggs = ["count() as last_minute", "mean(size) as mean_size", "max(status) as worst"]
    want = sash.rolling(rows, time="timestamp", period="1m", by="host", aggs=aggs, null_time="drop")
    want = want.take(pc.sort_indices(want, [("timestamp", "ascending")]))  # a stable sort: ties keep input order
    run("rolling", COMBINED, "-f", "combined", "--period", "1m", "--by", "host",
        *[x for a in aggs for x in ("--agg", a)], "-o", "r.parquet", cwd=tmp_path)
    got = pq.read_table(tmp_path / "r.parquet")
    assert views_as_strings(got).equals(views_as_strings(want))


def test_compressed_inputs_and_stdin(tmp_path):
    import gzip
    (tmp_path / "a.gz").write_bytes(gzip.compress(COMBINED.read_bytes()))
    want = sash.read_log(COMBINED, "combined")
    run("parse", "a.gz", "-f", "combined", "-o", "gz.arrow", cwd=tmp_path)
    assert feather.read_table(tmp_path / "gz.arrow").equals(views_as_strings(want))
    with open(COMBINED, "rb") as stdin:
        proc = subprocess.run([str(SASH), "parse", "-", "-f", "combined", "--output-format", "arrows"],
                              stdin=stdin, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert ipc.open_stream(pa.BufferReader(proc.stdout)).read_all().equals(views_as_strings(want))


def test_sigint_to_the_console_script_leaves_no_output(tmp_path):
    proc = subprocess.Popen([str(SASH), "parse", "-", "-f", "combined", "-o", "out.parquet"], cwd=tmp_path,
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    line = b'10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET /a HTTP/1.1" 200 7 "-" "curl"\n' * 1000
    start = time.monotonic()
    signalled = False
    try:
        while time.monotonic() - start < 30:
            proc.stdin.write(line)
            if not signalled and time.monotonic() - start > 0.5:
                proc.send_signal(signal.SIGINT)
                signalled = True
    except BrokenPipeError:
        pass
    assert proc.wait(timeout=30) == 130
    stderr = proc.stderr.read().decode()
    assert "interrupted" in stderr and "Traceback" not in stderr, stderr
    assert os.listdir(tmp_path) == []
