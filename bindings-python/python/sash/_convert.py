"""Turns inputs that do not speak the Arrow PyCapsule interface into pyarrow.

The native module calls :func:`to_arrow` only for objects without
``__arrow_c_stream__`` / ``__arrow_c_array__``; Arrow objects never come here.
"""
from __future__ import annotations

import weakref
from typing import Any


def to_arrow(data: Any) -> Any:
    """A ``pyarrow.Table`` for a dict of NumPy arrays / lists, or a pandas DataFrame.

    NumPy arrays of numbers without nulls are wrapped, not copied (pyarrow
    shares their buffers); lists are converted.
    """
    import pyarrow as pa

    if isinstance(data, dict):
        return pa.table(data)
    module = type(data).__module__ or ""
    if module.startswith("pandas") and hasattr(data, "columns"):
        return pa.Table.from_pandas(data, preserve_index=False)
    raise _wrong_type(
        "sash takes an Arrow object (anything with __arrow_c_stream__ or __arrow_c_array__: "
        "pyarrow, polars, DuckDB, nanoarrow, pandas) or a dict of NumPy arrays or lists; "
        f"got {type(data).__module__}.{type(data).__qualname__}"
    )


def to_lines(lines: Any) -> Any:
    """A pyarrow string array for ``sash.parse`` inputs without the Arrow
    PyCapsule interface: a list (or other iterable) of str, or a NumPy array
    of str or objects (converted by pyarrow; NumPy strings are copied).
    """
    import pyarrow as pa

    if isinstance(lines, (str, bytes, dict)) or not hasattr(lines, "__iter__"):
        raise _wrong_type(
            "sash.parse takes lines as an Arrow string array or chunked array (pyarrow, polars, "
            "nanoarrow), a NumPy array or a list of str, or bytes holding whole lines; "
            f"got {type(lines).__module__}.{type(lines).__qualname__}"
        )
    module = type(lines).__module__ or ""
    try:
        if module.startswith("numpy"):
            return pa.array(lines, pa.string() if lines.dtype.kind in "UOT" else None)
        return pa.array(lines, pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid) as e:
        raise _wrong_type(f"sash.parse takes lines of str (or None for a missing line): {e}") from e


def _wrong_type(message: str) -> Exception:
    """``sash.WrongTypeError``: a ``sash.SashError`` and a ``TypeError``, like
    the errors of the kernel, so that ``except sash.SashError`` catches it."""
    from sash._sash import WrongTypeError

    return WrongTypeError(message)


# pyarrow readers sash has read to their end: a reader can be read once, and
# read again it would look like an empty input rather than a mistake.
_READ_READERS: weakref.WeakSet[Any] = weakref.WeakSet()


def read_reader(reader: Any) -> Any:
    """A ``pyarrow.RecordBatchReader`` read to its end as a ``pyarrow.Table``
    (its batches, not copies), in Python: an exception its producer raises
    then reaches the caller as itself, type and text, where through the C
    stream interface it would be a string. A reader read before is refused.
    """
    from sash._sash import InvalidInputError

    if reader in _READ_READERS:
        raise InvalidInputError(
            "invalid input: this RecordBatchReader was already read to its end (by an earlier call); "
            "a reader can be read once: pass a new reader, or read it into a table first"
        )
    table = reader.read_all()
    _READ_READERS.add(reader)
    return table
