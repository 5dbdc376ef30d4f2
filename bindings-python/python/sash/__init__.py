"""sash: log parsing, windowed and rolling aggregation on Apache Arrow, zero-copy.

One Rust kernel (``sash-core``) with the same semantics in every language
(``docs/semantics.md``). From Python it takes any Arrow object (pyarrow,
polars, DuckDB, nanoarrow, pandas) or a dict of NumPy arrays, without
copying, and returns ``pyarrow.Table`` objects, also without copying.

>>> import pyarrow as pa, sash
>>> t = pa.table({"ts": pa.array([0, 5, 10], pa.timestamp("s")), "v": [1.0, 2.0, 4.0]})
>>> sash.window_agg(t, time="ts", every="10s", aggs=["sum(v) as s"]).to_pydict()["s"]
[3.0, 4.0]

Errors are ``sash.SashError`` subclasses that also subclass the matching
builtin (``ValueError``, ``TypeError``, ``OverflowError``):

>>> try:
...     sash.window_agg(t, time="ts", every="10s", aggs=["mean(latency)"])
... except ValueError as e:
...     print(type(e).__name__, e.kind, "|", e)
UnknownColumnError unknown_column | unknown column 'latency'; the input has: ts, v
"""
try:
    from sash._sash import (
        ArrowError,
        CancelledError,
        InternalError,
        InvalidDurationError,
        InvalidExpressionError,
        InvalidInputError,
        InvalidSpecError,
        NullTimeError,
        ParseError,
        ResourceLimitError,
        RollingStream,
        SashError,
        SashOverflowError,
        UnknownColumnError,
        UnknownFunctionError,
        WindowStream,
        WrongTypeError,
        __version__,
        get_threads,
        parse,
        read_log,
        rolling,
        set_threads,
        window_agg,
    )
except ImportError as _missing:  # no native extension here: the socket client still works
    _native_import_error = _missing

    def __getattr__(name: str):
        raise ImportError(f"sash.{name} needs the native extension, which could not be loaded "
                          f"({_native_import_error}); sash.connect() works without it") from _native_import_error

from sash.client import connect

__all__ = [
    "ArrowError",
    "CancelledError",
    "InternalError",
    "InvalidDurationError",
    "InvalidExpressionError",
    "InvalidInputError",
    "InvalidSpecError",
    "NullTimeError",
    "ParseError",
    "ResourceLimitError",
    "RollingStream",
    "SashError",
    "SashOverflowError",
    "UnknownColumnError",
    "UnknownFunctionError",
    "WindowStream",
    "WrongTypeError",
    "__version__",
    "connect",
    "get_threads",
    "parse",
    "read_log",
    "rolling",
    "set_threads",
    "window_agg",
]
