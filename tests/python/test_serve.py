"""``sash.connect``: the module's calls through ``sash serve`` (the wheel's
``sash`` console script) give the in-process results, with pyarrow only —
also in a process where the native extension cannot be loaded."""
import datetime
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import sash
import sash.client

SASH = Path(sys.executable).parent / "sash"
LOGS = Path(__file__).resolve().parents[1] / "data" / "logs"
LINE = '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326'


def start_server(tmp_path, *extra):
    socket = tmp_path / "sash.sock"
    proc = subprocess.Popen([str(SASH), "serve", "--socket", str(socket), *extra], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            sash.connect(str(socket)).close()
            return proc, str(socket)
        except OSError:
            assert proc.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server did not listen within 30 s"
            time.sleep(0.02)


class Served(str):
    """The socket's path, and the server's pid."""
    pid: int


@pytest.fixture
def server(tmp_path):
    proc, socket = start_server(tmp_path)
    socket = Served(socket)
    socket.pid = proc.pid
    yield socket
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert not os.path.exists(socket)


def events(n, seed):
    rng = np.random.default_rng(seed)
    ts = pa.array(rng.integers(0, 3_600_000, n), pa.timestamp("ms", tz="Europe/Paris"))
    ts = pa.compute.if_else(pa.array(rng.random(n) < 0.05), pa.scalar(None, ts.type), ts)
    v = pa.array(np.where(rng.random(n) < 0.1, np.nan, rng.random(n) * 100)).to_pandas()
    return pa.table({"ts": ts, "k": pa.array(rng.integers(0, 7, n)), "v": pa.array(v, from_pandas=True)})


WINDOW = dict(time="ts", every=datetime.timedelta(minutes=1), by="k", null_time="drop",
              aggs=["count() as n", "sum(v) as s", "quantile(v, 0.9) as q", "first(v) as f"])
ROLLING = dict(time="ts", period="5m", by="k", null_time="drop", aggs=["mean(v) as m", "max(v) as x"])


def test_every_call_gives_the_in_process_result(server, tmp_path):
    c = sash.connect(server)
    t = events(20_000, 1)
    assert c.window_agg(t, **WINDOW).equals(sash.window_agg(t, **WINDOW), check_metadata=True)
    assert c.window_agg(t.to_batches(max_chunksize=3000)[1], **WINDOW).equals(
        sash.window_agg(t.to_batches(max_chunksize=3000)[1], **WINDOW))
    assert c.rolling(t.slice(10, 5000), **ROLLING).equals(sash.rolling(t.slice(10, 5000), **ROLLING))
    assert c.window_agg({"ts": np.arange(10), "v": np.ones(10)}, time="ts", every=3, aggs=["sum(v)"]).equals(
        sash.window_agg({"ts": np.arange(10), "v": np.ones(10)}, time="ts", every=3, aggs=["sum(v)"]))
    # Lines as a list, an Arrow array, raw bytes; a real log from a file.
    lines = [LINE, "not a line", LINE.replace("200", "404")] * 100
    for given in (lines, pa.array(lines), pa.array(lines, pa.large_string()), "\n".join(lines).encode()):
        assert c.parse(given, "common").equals(sash.parse(given, "common"))
    log = LOGS / "apache_combined_10k.log"
    assert c.read_log(log, "combined").equals(sash.read_log(log, "combined"))
    assert c.parse(lines, "common", strings="utf8", on_error="mark").equals(
        sash.parse(lines, "common", strings="utf8", on_error="mark"))
    c.close()


def test_errors_are_the_modules_classes_and_messages(server):
    c = sash.connect(server)
    t = events(100, 2)
    for kwargs in (dict(time="ts", every="1m", aggs=["mean(latency)"]), dict(time="v", every="1m", aggs=["count()"]),
                   dict(time="ts", every="1 fortnight", aggs=["count()"]), dict(time="ts", every="1m", aggs=["count()"])):
        with pytest.raises(sash.SashError) as remote:
            c.window_agg(t, **kwargs)
        with pytest.raises(sash.SashError) as local:
            sash.window_agg(t, **kwargs)
        assert type(remote.value) is type(local.value)
        assert str(remote.value) == str(local.value)
    with pytest.raises(sash.ParseError, match="line 2"):
        c.parse([LINE, "bad"], "common", on_error="raise")
    # The connection goes on after each.
    assert c.window_agg(t, **WINDOW).equals(sash.window_agg(t, **WINDOW))


def test_a_bad_request_or_failing_data_raises_at_once_never_hangs(server):
    """A spec JSON cannot hold fails before anything is sent (the connection
    goes on); a caller's reader that fails mid-stream ends the connection and
    raises its own error, where the client used to wait for an answer forever."""
    c = sash.connect(server)
    with pytest.raises(TypeError):
        c.window_agg(events(10, 1), time="ts", every=object(), aggs=["count()"])
    assert c.window_agg(events(100, 2), **WINDOW).num_rows > 0
    t = events(1000, 3)

    def failing():
        yield t.to_batches()[0]
        raise KeyError("the caller's source failed")

    raised = []

    def call():
        try:
            c.window_agg(pa.RecordBatchReader.from_batches(t.schema, failing()), **WINDOW)
        except BaseException as e:  # noqa: BLE001 - the test looks at it below
            raised.append(e)

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    caller.join(timeout=60)
    assert not caller.is_alive(), "the call hangs"
    assert isinstance(raised[0], KeyError) and "source failed" in str(raised[0]), raised
    assert sash.connect(server).window_agg(t, **WINDOW).equals(sash.window_agg(t, **WINDOW))


def test_the_fallback_error_classes_are_the_native_table():
    # Without the native module, sash.client makes these classes itself: the same names, kinds and builtins.
    for name, kind, builtin in sash.client._KINDS:
        native = getattr(sash, name)
        assert native.kind == kind
        assert issubclass(native, builtin) and issubclass(native, sash.SashError)
    assert {cls.__name__ for cls in sash.SashError.__subclasses__()} >= {name for name, _, _ in sash.client._KINDS}


def test_streams_over_the_socket_equal_the_in_process_streams(server):
    c = sash.connect(server)
    spec = dict(time="ts", every="1m", by="k", null_time="drop", lateness="2m", aggs=["count() as n", "sum(v) as s"])
    remote, local = c.WindowStream(**spec), sash.WindowStream(**spec)
    pushes = [events(2000, s).sort_by("ts") for s in range(3, 7)]
    for p in pushes[:2]:
        assert remote.push(p).equals(local.push(p), check_metadata=True)
    assert remote.watermark == local.watermark and remote.stats == local.stats
    other = sash.connect(server)
    restored = other.WindowStream.restore(remote.snapshot())
    assert sash.WindowStream.restore(remote.snapshot()).snapshot() == local.snapshot()
    for p in pushes[2:]:
        want = local.push(p)
        assert remote.push(p).equals(want) and restored.push(p).equals(want)
    when = datetime.datetime(1970, 1, 1, 0, 50, tzinfo=datetime.timezone.utc)
    want = local.advance(when)
    assert remote.advance(when).equals(want) and restored.advance(when).equals(want)
    want_late, want_finish = local.take_late(), local.finish()
    for s in (remote, restored):
        assert s.take_late().equals(want_late) and s.finish().equals(want_finish)
    rolling_spec = dict(time="ts", period="5m", null_time="drop", aggs=["mean(v) as m"])
    r, lr = c.RollingStream(**rolling_spec), sash.RollingStream(**rolling_spec)
    for p in pushes:
        assert r.push(p).equals(lr.push(p))
    assert r.finish().equals(lr.finish())


def test_sixteen_threads_each_with_its_client(server):
    failures = []

    def work(i):
        try:
            with sash.connect(server) as c:
                for r in range(3):
                    t = events(3000 + i * 100, i * 10 + r)
                    if (i + r) % 3 == 0:
                        assert c.window_agg(t, **WINDOW).equals(sash.window_agg(t, **WINDOW))
                    elif (i + r) % 3 == 1:
                        assert c.rolling(t, **ROLLING).equals(sash.rolling(t, **ROLLING))
                    else:
                        lines = [LINE if j % (i + 2) else "x" for j in range(500)]
                        assert c.parse(lines, "common").equals(sash.parse(lines, "common"))
        except BaseException as e:  # noqa: BLE001 - reported below
            failures.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures


def test_a_killed_server_gives_connection_lost_at_once_never_a_partial_table(tmp_path):
    proc, socket = start_server(tmp_path)
    c = sash.connect(socket)
    data = (LINE + "\n").encode() * 10_000_000  # 700 MB: seconds of sending and parsing
    outcome = {}

    def call():
        start = time.monotonic()
        try:
            outcome["table"] = c.parse(data, "common")
        except BaseException as e:  # noqa: BLE001 - checked below
            outcome["error"] = e
        outcome["after"] = time.monotonic() - start

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.3)
    killed_at = time.monotonic()
    proc.kill()
    proc.wait()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the client hangs after the server was killed"
    assert "table" not in outcome, "a partial table presented as complete"
    assert isinstance(outcome["error"], sash.client.ConnectionLostError), outcome
    assert isinstance(outcome["error"], ConnectionError)
    assert time.monotonic() - killed_at < 5


def test_server_memory_is_flat_over_many_calls(server):
    c = sash.connect(server)
    t = events(50_000, 9)
    lines = [LINE] * 20_000

    def rss():
        status = Path(f"/proc/{server.pid}/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])

    for _ in range(20):
        c.window_agg(t, **WINDOW)
        c.parse(lines, "common")
    base = rss()
    for _ in range(200):
        c.window_agg(t, **WINDOW)
        c.parse(lines, "common")
    assert rss() < base + 32 * 1024, (base, rss())


def test_connect_works_without_the_native_extension(server, tmp_path):
    t = events(5000, 11)
    expected = sash.window_agg(t, **WINDOW)
    script = f"""
import sys, importlib.abc, datetime
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "sash._sash":
            raise ImportError("the native extension is blocked in this test")
sys.meta_path.insert(0, Block())
import pyarrow as pa, sash
assert "sash._sash" not in sys.modules
t = pa.ipc.open_file({str(tmp_path / 'in.arrow')!r}).read_all()
c = sash.connect({server!r})
out = c.window_agg(t, time="ts", every=datetime.timedelta(minutes=1), by="k", null_time="drop",
                   aggs=["count() as n", "sum(v) as s", "quantile(v, 0.9) as q", "first(v) as f"])
with pa.ipc.new_file({str(tmp_path / 'out.arrow')!r}, out.schema) as w:
    w.write_table(out)
try:
    c.window_agg(t, time="ts", every="1m", aggs=["mean(nope)"])
except sash.client.SashError as e:
    assert type(e).__name__ == "UnknownColumnError" and isinstance(e, ValueError), type(e)
try:
    sash.window_agg
except ImportError as e:
    assert "connect" in str(e)
assert "sash._sash" not in sys.modules
"""
    with pa.ipc.new_file(tmp_path / "in.arrow", t.schema) as w:
        w.write_table(t)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert pa.ipc.open_file(tmp_path / "out.arrow").read_all().equals(expected)
