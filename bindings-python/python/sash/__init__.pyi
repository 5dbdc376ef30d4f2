# Type stubs for sash (the native module sash._sash, re-exported).
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from os import PathLike
from typing import Any, ClassVar, Literal, Protocol, overload

import pyarrow

__version__: str

class _ArrowStream(Protocol):
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...

class _ArrowArray(Protocol):
    def __arrow_c_array__(self, requested_schema: object | None = None) -> tuple[object, object]: ...

# Arrow objects (pyarrow, polars, DuckDB, nanoarrow, pandas >= 2.2), a pandas
# DataFrame, or a dict of NumPy arrays or lists.
ArrowInput = _ArrowStream | _ArrowArray | Mapping[str, Any] | Any
class _Timedelta64(Protocol):
    # numpy.timedelta64, without making NumPy a typing dependency.
    def astype(self, dtype: str) -> Any: ...

# "10m", "1h30m", "500ms", "10 minutes"; integers (or "10", "10i") for integer
# time columns; "100i" for a rolling window of 100 rows. A pandas.Timedelta is a
# timedelta.
Duration = str | int | timedelta | _Timedelta64
Aggs = Sequence[str] | Mapping[str, str]
By = str | Sequence[str] | None

def window_agg(
    data: ArrowInput,
    *,
    time: str,
    every: Duration | None = None,
    period: Duration | None = None,
    offset: Duration | None = None,
    session_gap: Duration | None = None,
    by: By = None,
    aggs: Aggs,
    closed: Literal["left", "right"] = "left",
    null_time: Literal["error", "drop"] = "error",
) -> pyarrow.Table: ...
def rolling(
    data: ArrowInput,
    *,
    time: str,
    period: Duration,
    by: By = None,
    aggs: Aggs,
    closed: Literal["right", "left", "both", "none"] = "right",
    null_time: Literal["error", "drop"] = "error",
) -> pyarrow.Table: ...

# Log lines: an Arrow string/binary array or chunked array (pyarrow, polars
# Series, nanoarrow), a NumPy array or a list of str, or bytes of whole lines.
LinesInput = _ArrowStream | _ArrowArray | Sequence[str] | bytes | Any
LogFormat = Literal["common", "combined", "syslog", "apache_error", "logfmt", "json", "regex"]

def parse(
    lines: LinesInput,
    format: LogFormat,
    *,
    on_error: Literal["mark", "raise"] = ...,
    strings: Literal["view", "utf8", "large_utf8"] = ...,
    timezone: str = ...,
    max_line_bytes: int = ...,
    reference_time: str = ...,
    fields: Mapping[str, Any] = ...,
    schema: Sequence[Mapping[str, Any]] = ...,
    pattern: str = ...,
    types: Mapping[str, Any] = ...,
) -> pyarrow.Table: ...
@overload
def read_log(
    path: str | PathLike[str],
    format: LogFormat,
    *,
    batch_size: None = None,
    on_error: Literal["mark", "raise"] = ...,
    strings: Literal["view", "utf8", "large_utf8"] = ...,
    timezone: str = ...,
    max_line_bytes: int = ...,
    reference_time: str = ...,
    fields: Mapping[str, Any] = ...,
    schema: Sequence[Mapping[str, Any]] = ...,
    pattern: str = ...,
    types: Mapping[str, Any] = ...,
) -> pyarrow.Table: ...
@overload
def read_log(
    path: str | PathLike[str],
    format: LogFormat,
    *,
    batch_size: int,
    on_error: Literal["mark", "raise"] = ...,
    strings: Literal["view", "utf8", "large_utf8"] = ...,
    timezone: str = ...,
    max_line_bytes: int = ...,
    reference_time: str = ...,
    fields: Mapping[str, Any] = ...,
    schema: Sequence[Mapping[str, Any]] = ...,
    pattern: str = ...,
    types: Mapping[str, Any] = ...,
) -> pyarrow.RecordBatchReader: ...

def set_threads(n: int) -> None:
    """Sets how many threads sash's kernels use, for the whole process; 0 is the
    default (SASH_MAX_THREADS, else the cores the process may use). Results never
    depend on it."""

def get_threads() -> int:
    """How many threads sash's kernels use."""

class WindowStream:
    """Tumbling, hopping or session windows over pushes of rows, emitted as the watermark passes them."""

    def __init__(
        self,
        *,
        time: str,
        every: Duration | None = None,
        period: Duration | None = None,
        offset: Duration | None = None,
        session_gap: Duration | None = None,
        by: By = None,
        aggs: Aggs,
        closed: Literal["left", "right"] = "left",
        null_time: Literal["error", "drop"] = "error",
        lateness: Duration = 0,
    ) -> None: ...
    def push(self, data: ArrowInput) -> pyarrow.Table: ...
    def advance(self, watermark: int | datetime | date | Any) -> pyarrow.Table: ...
    def finish(self) -> pyarrow.Table: ...
    def take_late(self) -> pyarrow.Table: ...
    def snapshot(self) -> bytes: ...
    @staticmethod
    def restore(data: bytes) -> WindowStream: ...
    @property
    def watermark(self) -> int | None: ...
    @property
    def stats(self) -> dict[str, int]: ...

class RollingStream:
    """Rolling aggregation over pushes of rows, each row's result emitted once the watermark passes its time."""

    def __init__(
        self,
        *,
        time: str,
        period: Duration,
        by: By = None,
        aggs: Aggs,
        closed: Literal["left", "right", "both", "none"] = "right",
        null_time: Literal["error", "drop"] = "error",
        lateness: Duration = 0,
    ) -> None: ...
    def push(self, data: ArrowInput) -> pyarrow.Table: ...
    def advance(self, watermark: int | datetime | date | Any) -> pyarrow.Table: ...
    def finish(self) -> pyarrow.Table: ...
    def take_late(self) -> pyarrow.Table: ...
    def snapshot(self) -> bytes: ...
    @staticmethod
    def restore(data: bytes) -> RollingStream: ...
    @property
    def watermark(self) -> int | None: ...
    @property
    def stats(self) -> dict[str, int]: ...

class SashError(Exception):
    kind: ClassVar[str | None]

class UnknownColumnError(SashError, ValueError): ...
class WrongTypeError(SashError, TypeError): ...
class InvalidSpecError(SashError, ValueError): ...
class InvalidDurationError(SashError, ValueError): ...
class UnknownFunctionError(SashError, ValueError): ...
class InvalidExpressionError(SashError, ValueError): ...
class NullTimeError(SashError, ValueError): ...
class SashOverflowError(SashError, OverflowError): ...
class InvalidInputError(SashError, ValueError): ...
class ParseError(SashError, ValueError): ...
class ArrowError(SashError, ValueError): ...
class ResourceLimitError(SashError, ValueError): ...
class CancelledError(SashError, RuntimeError): ...
class InternalError(SashError, RuntimeError): ...

def connect(path: str) -> "sash.client.Client":
    """A client of ``sash serve --socket path``: the module's functions over the socket (pyarrow only)."""

import sash.client
