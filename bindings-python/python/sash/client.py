"""A client of ``sash serve`` (docs/protocol.md): the module's functions, run by a
server over a Unix domain socket, with pyarrow's IPC only — it works where the
native extension cannot be loaded.

>>> import sash.client
>>> s = sash.client.connect("/tmp/sash.sock")              # doctest: +SKIP
>>> s.window_agg(table, time="ts", every="1m", aggs=["count() as n"])  # doctest: +SKIP

A ``Client`` serves one call at a time (a lock guards it); open one per thread
for calls at once. Streams (``client.WindowStream(...)``) live as long as the
connection.
"""
from __future__ import annotations

import contextlib
import datetime
import json
import socket
import struct
import threading
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

try:  # The native module's classes when it is there, so `except sash.SashError` catches both.
    from sash import _sash as _errors
except ImportError:  # pragma: no cover - exercised by the test that hides the native module
    _errors = None

_KINDS = [  # (class, kind, builtin): the native module's table (tests compare them)
    ("UnknownColumnError", "unknown_column", ValueError), ("WrongTypeError", "wrong_type", TypeError),
    ("InvalidSpecError", "invalid_spec", ValueError), ("InvalidDurationError", "invalid_duration", ValueError),
    ("UnknownFunctionError", "unknown_function", ValueError), ("InvalidExpressionError", "invalid_expression", ValueError),
    ("NullTimeError", "null_time", ValueError), ("SashOverflowError", "overflow", OverflowError),
    ("InvalidInputError", "invalid_input", ValueError), ("ParseError", "parse", ValueError),
    ("ArrowError", "arrow", ValueError), ("ResourceLimitError", "resource_limit", ValueError),
    ("CancelledError", "cancelled", RuntimeError), ("InternalError", "internal", RuntimeError),
]
if _errors is not None:
    SashError = _errors.SashError
    _BY_KIND = {kind: getattr(_errors, name) for name, kind, _ in _KINDS}
else:
    class SashError(Exception):  # type: ignore[no-redef]
        """The base of every sash error; ``kind`` names it as the conformance corpus does."""
        kind = "sash"
    _BY_KIND = {kind: type(name, (SashError, base), {"kind": kind}) for name, kind, base in _KINDS}
    globals().update({cls.__name__: cls for cls in _BY_KIND.values()})


class ProtocolError(SashError, ValueError):
    """The server could not read the request (docs/protocol.md); it closed the connection."""
    kind = "protocol"


class PermissionDeniedError(SashError, PermissionError):
    """The server does not serve this process' uid."""
    kind = "permission_denied"


class ConnectionLostError(SashError, ConnectionError):
    """The connection broke before the answer was complete: no result is returned."""
    kind = "connection_lost"


_BY_KIND.update(protocol=ProtocolError, permission_denied=PermissionDeniedError)
_MAGIC = b"SASH"


def connect(path: str) -> Client:
    """Connects to ``sash serve --socket path``."""
    return Client(path)


def _duration(value: Any) -> Any:
    if isinstance(value, datetime.timedelta) and type(value).__name__ != "Timedelta":
        return f"{(value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds}us"
    if type(value).__name__ in ("timedelta64", "Timedelta"):
        v = getattr(value, "asm8", value)
        return f"{int(v.astype('timedelta64[ns]').astype('int64'))}ns"
    return value


_WINDOW_KEYS = ("time", "every", "period", "offset", "session_gap", "by", "aggs", "closed", "null_time")
_ROLLING_KEYS = ("time", "period", "by", "aggs", "closed", "null_time")


def _spec(keys: tuple[str, ...], given: dict[str, Any]) -> dict[str, Any]:
    """The spec in the native module's key order (a stream's snapshot holds its spec's bytes)."""
    spec = {k: _duration(given[k]) for k in keys if given.get(k) is not None}
    spec.update({k: _duration(v) for k, v in given.items() if k not in keys})
    return spec


def _column(name: str, dtype: pa.DataType, arrays: Iterable[pa.Array]) -> pa.RecordBatchReader:
    """A stream of one column, a batch per array (read as the request is sent)."""
    schema = pa.schema([(name, dtype)])
    return pa.RecordBatchReader.from_batches(schema, (pa.record_batch([a], schema=schema) for a in arrays))


def _binary(name: str, chunks: Iterable[Any]) -> pa.RecordBatchReader:
    """A stream of one large_binary column, a batch of one value per bytes-like chunk (not copied)."""
    def value(chunk: Any) -> pa.Array:
        data = pa.py_buffer(chunk)
        return pa.Array.from_buffers(pa.large_binary(), 1, [None, pa.py_buffer(struct.pack("<qq", 0, data.size)), data])
    return _column(name, pa.large_binary(), map(value, chunks))


def _reader(data: Any) -> pa.RecordBatchReader:
    if isinstance(data, pa.RecordBatchReader):
        return data
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    elif isinstance(data, dict):
        data = pa.table(data)
    elif type(data).__name__ == "DataFrame" and hasattr(data, "iloc"):
        data = pa.Table.from_pandas(data, preserve_index=False)
    elif not isinstance(data, pa.Table) and hasattr(data, "__arrow_c_stream__"):
        return pa.RecordBatchReader.from_stream(data)
    return pa.RecordBatchReader.from_batches(data.schema, data.to_batches(max_chunksize=1 << 20))


def _lines(lines: Any) -> pa.RecordBatchReader:
    if isinstance(lines, (pa.Array, pa.ChunkedArray)):
        array = lines
    elif hasattr(lines, "__arrow_c_stream__") or hasattr(lines, "__arrow_c_array__"):
        array = pa.chunked_array(lines)
    else:
        array = pa.array(list(lines), pa.string())
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    return _column("line", array.type, (c.slice(o, 1 << 20) for c in chunks for o in range(0, max(len(c), 1), 1 << 20)))


class Client:
    """One connection to ``sash serve``: ``window_agg``, ``rolling``, ``parse``,
    ``read_log``, ``WindowStream`` and ``RollingStream`` as in the module."""

    def __init__(self, path: str):
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.connect(path)
        self._r = self._sock.makefile("rb", buffering=1 << 16)
        self._w = self._sock.makefile("wb", buffering=1 << 16)
        self._lock = threading.Lock()
        # The stream classes of this connection: _RemoteStream bound to it.
        self.WindowStream, self.RollingStream = (
            type(f"{kind.title()}Stream", (_RemoteStream,), {"_kind": kind, "_client": self}) for kind in ("window", "rolling"))

    def close(self) -> None:
        for f in (self._w, self._r, self._sock):
            with contextlib.suppress(OSError):
                f.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def window_agg(self, data: Any, **spec: Any) -> pa.Table:
        """``sash.window_agg``: time=, every=, period=, offset=, session_gap=, by=, aggs=, closed=, null_time=."""
        return self.call({"op": "window_agg", "spec": _spec(_WINDOW_KEYS, spec)}, _reader(data))[0]

    def rolling(self, data: Any, **spec: Any) -> pa.Table:
        """``sash.rolling``: time=, period=, by=, aggs=, closed=, null_time=."""
        return self.call({"op": "rolling", "spec": _spec(_ROLLING_KEYS, spec)}, _reader(data))[0]

    def parse(self, lines: Any, format: str, **options: Any) -> pa.Table:
        if isinstance(lines, (bytes, bytearray, memoryview)):  # a log's bytes, as one value
            return self._parse(format, options, _binary("line", [bytes(lines)]), "bytes")
        return self._parse(format, options, _lines(lines), "lines")

    def read_log(self, path: Any, format: str, *, batch_size: int | None = None, **options: Any) -> pa.Table:
        with open(path, "rb") as f:  # sent in values of 16 MiB
            table = self._parse(format, options, _binary("bytes", iter(lambda: f.read(16 << 20), b"")), "bytes")
        return table if batch_size is None else pa.RecordBatchReader.from_batches(table.schema, table.to_batches(batch_size))

    def _parse(self, format: str, options: dict[str, Any], data: pa.RecordBatchReader, input: str) -> pa.Table:
        return self.call({"op": "parse", "input": input, "spec": _spec(("format",), {"format": format, **options})}, data)[0]

    def call(self, request: dict[str, Any], data: pa.RecordBatchReader | None = None) -> tuple[pa.Table | None, dict]:
        """Sends one request (and its IPC stream, from another thread) and returns (table or None, the final frame)."""
        payload = json.dumps(request).encode()  # a spec JSON cannot hold fails here, before anything is sent
        with self._lock:
            theirs: list[BaseException] = []  # the error of the caller's data, if it failed

            def send() -> None:
                try:
                    self._w.write(_MAGIC + struct.pack("<I", len(payload)) + payload)
                    if data is not None:
                        with pa.ipc.new_stream(self._w, data.schema) as out:
                            for batch in data:
                                out.write_batch(batch)
                    self._w.flush()
                except BaseException as e:  # a broken connection is the answer's to report (or its absence)
                    if not isinstance(e.__context__ or e, OSError):  # the caller's data failed: end the connection, not wait
                        theirs.append(e)
                        with contextlib.suppress(OSError):
                            self._sock.shutdown(socket.SHUT_RDWR)

            writer = threading.Thread(target=send, daemon=True) if data is not None else None
            if writer is None:
                send()  # a frame alone: no thread
            else:
                writer.start()
            try:
                head = self._frame()
                table = None
                if head.get("ok") and head.get("stream"):
                    table = pa.ipc.open_stream(self._r).read_all()
                    head = self._frame()  # the tail: only now is the answer complete
            except (OSError, pa.ArrowException, ValueError) as e:
                self.close()  # the caller's own error when its data failed mid-stream (the writer ended the connection)
                lost = ConnectionLostError(f"sash serve: connection lost before the answer was complete ({e})")
                raise (theirs[0] if theirs else lost) from None
            finally:
                if writer is not None:
                    writer.join()
            if not head.get("ok"):
                if head.get("closed"):
                    self.close()
                error = head.get("error") or {}
                raise _BY_KIND.get(error.get("kind"), _BY_KIND["internal"])(error.get("message", "unknown error"))
            if theirs:  # an answer to part of the data is no answer
                raise theirs[0]
            return table, head

    def _frame(self) -> dict:
        head = self._r.read(8)
        if len(head) < 8 or head[:4] != _MAGIC:
            raise ConnectionError("the connection ended" if len(head) < 8 else "not a sash frame")
        body = self._r.read(length := struct.unpack("<I", head[4:])[0])
        if len(body) < length:
            raise ConnectionError("the connection ended in a frame")
        return json.loads(body)


class _RemoteStream:
    """A ``WindowStream``/``RollingStream`` kept by the server for this connection."""
    _kind: str
    _client: Client

    def __init__(self, *, _session: int | None = None, **spec: Any):
        if _session is None:
            keys = (_WINDOW_KEYS if self._kind == "window" else _ROLLING_KEYS) + ("lateness",)
            _session = self._client.call({"op": "open", "stream": self._kind, "spec": _spec(keys, spec)})[1]["session"]
        self._session = _session

    @classmethod
    def restore(cls, data: bytes) -> _RemoteStream:
        return cls(_session=cls._client.call({"op": "restore", "stream": cls._kind}, _binary("snapshot", [data]))[1]["session"])

    def _op(self, op: str, data: pa.RecordBatchReader | None = None, **more: Any) -> tuple[pa.Table | None, dict]:
        return self._client.call({"op": op, "session": self._session, **more}, data)

    def push(self, data: Any) -> pa.Table:
        return self._op("push", _reader(data))[0]

    def advance(self, watermark: Any) -> pa.Table:
        if isinstance(watermark, int):
            return self._op("advance", watermark=watermark)[0]
        array = pa.array([watermark])
        return self._op("advance", _column("w", array.type, [array]))[0]

    def finish(self) -> pa.Table:
        return self._op("finish")[0]

    def take_late(self) -> pa.Table:
        return self._op("take_late")[0]

    def snapshot(self) -> bytes:
        return self._op("snapshot")[0].column(0)[0].as_py()

    def close(self) -> None:
        self._op("close")

    @property
    def watermark(self) -> int | None:
        return self._op("stats")[1].get("watermark")

    @property
    def stats(self) -> dict[str, int]:
        return self._op("stats")[1].get("stats", {})
