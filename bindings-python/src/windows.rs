//! The public window functions: `window_agg` and `rolling`.

use super::*;

/// Windowed aggregation: tumbling (``every``), hopping (``every`` and
/// ``period``) or session (``session_gap``) windows over the time column
/// ``time``, per key (``by``), one output row per non-empty window.
///
/// ``data`` is anything that speaks the Arrow PyCapsule interface (pyarrow
/// Table, RecordBatch or RecordBatchReader, a polars DataFrame, a DuckDB
/// relation, nanoarrow, pandas), or a dict of NumPy arrays or lists. It is
/// read without copying and left unchanged.
///
/// Durations are strings such as ``"10m"``, ``"1h30m"``, ``"500ms"`` (integers
/// for integer time columns) or ``datetime.timedelta``. ``aggs`` is a list of
/// expressions (``"mean(latency) as avg"``) or a dict alias -> expression.
/// The keywords are the keys of the canonical spec in ``docs/semantics.md``;
/// an unknown keyword raises ``sash.InvalidSpecError`` naming it.
///
/// Returns a ``pyarrow.Table``: the key columns, ``window_start``,
/// ``window_end``, then one column per aggregation. The GIL is released
/// while the kernel runs.
///
/// >>> import pyarrow as pa, sash
/// >>> t = pa.table({"ts": pa.array([0, 30, 61, 65], pa.timestamp("s")),
/// ...               "host": ["a", "a", "b", "a"], "ms": [1.0, 3.0, 5.0, 7.0]})
/// >>> out = sash.window_agg(t, time="ts", every="1m", by="host",
/// ...                       aggs=["count() as n", "mean(ms) as avg"])
/// >>> out.column_names
/// ['host', 'window_start', 'window_end', 'n', 'avg']
/// >>> out.to_pydict()["n"], out.to_pydict()["avg"]
/// ([2, 1, 1], [2.0, 7.0, 5.0])
/// >>> sash.window_agg(t, time="ts", every="1x", aggs=["count()"])
/// Traceback (most recent call last):
/// ...
/// sash.InvalidDurationError: invalid duration '1x': ...
#[pyfunction]
#[pyo3(
    signature = (data, *, time=None, every=None, period=None, offset=None, session_gap=None, by=None, aggs=None, closed=None, null_time=None, **extra),
    text_signature = "(data, *, time, every=None, period=None, offset=None, session_gap=None, by=None, aggs, closed='left', null_time='error')"
)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn window_agg<'py>(
    data: &Bound<'py, PyAny>,
    time: Option<&Bound<'py, PyAny>>,
    every: Option<&Bound<'py, PyAny>>,
    period: Option<&Bound<'py, PyAny>>,
    offset: Option<&Bound<'py, PyAny>>,
    session_gap: Option<&Bound<'py, PyAny>>,
    by: Option<&Bound<'py, PyAny>>,
    aggs: Option<&Bound<'py, PyAny>>,
    closed: Option<&Bound<'py, PyAny>>,
    null_time: Option<&Bound<'py, PyAny>>,
    extra: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = data.py();
    let spec = spec_json(&window_keys([time, every, period, offset, session_gap, by, aggs, closed, null_time]), extra)?;
    let out = run_window(py, read_input(data)?, spec, sash_core::window_agg)?;
    to_pyarrow(py, out.schema(), vec![out])
}

/// Rolling aggregation: one output row per input row, in input order, with
/// the aggregates over the rows of the same key (``by``) in the window that
/// ends at that row. ``period`` is a duration (``"5m"``) or a row count
/// (``"100i"``); ``closed`` is ``"right"``, ``"left"``, ``"both"`` or ``"none"``.
///
/// Returns a ``pyarrow.Table``: the input columns (the very same buffers, not
/// copies) followed by one column per aggregation. Inputs as for
/// :func:`window_agg`.
///
/// >>> import pyarrow as pa, sash
/// >>> t = pa.table({"ts": pa.array([0, 10, 20, 60], pa.timestamp("s")), "v": [1, 2, 3, 4]})
/// >>> sash.rolling(t, time="ts", period="30s", aggs={"s": "sum(v)"}).to_pydict()["s"]
/// [1, 3, 6, 4]
/// >>> sash.rolling(t, time="ts", period="2i", aggs=["count() as n"]).column("n").to_pylist()
/// [1, 2, 2, 2]
#[pyfunction]
#[pyo3(
    signature = (data, *, time=None, period=None, by=None, aggs=None, closed=None, null_time=None, **extra),
    text_signature = "(data, *, time, period, by=None, aggs, closed='right', null_time='error')"
)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn rolling<'py>(
    data: &Bound<'py, PyAny>,
    time: Option<&Bound<'py, PyAny>>,
    period: Option<&Bound<'py, PyAny>>,
    by: Option<&Bound<'py, PyAny>>,
    aggs: Option<&Bound<'py, PyAny>>,
    closed: Option<&Bound<'py, PyAny>>,
    null_time: Option<&Bound<'py, PyAny>>,
    extra: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = data.py();
    let spec =
        spec_json(&[("time", time), ("period", period), ("by", by), ("aggs", aggs), ("closed", closed), ("null_time", null_time)], extra)?;
    let (schema, out) = run_rolling(py, read_input(data)?, spec, kernel_rolling)?;
    to_pyarrow(py, schema, out)
}

/// The keys of a window spec, in order, with the keyword values given for
/// them (`window_agg` and `WindowStream` take the same keywords).
pub(crate) fn window_keys<'a, 'py>(values: [Option<&'a Bound<'py, PyAny>>; 9]) -> Vec<(&'static str, Option<&'a Bound<'py, PyAny>>)> {
    const KEYS: [&str; 9] = ["time", "every", "period", "offset", "session_gap", "by", "aggs", "closed", "null_time"];
    KEYS.into_iter().zip(values).collect()
}
