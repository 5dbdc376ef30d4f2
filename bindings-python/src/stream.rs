//! `sash.WindowStream` and `sash.RollingStream`: windows and rolling
//! aggregation over input that never stops arriving (docs/semantics.md,
//! "Streaming"), thin classes over the core's, their methods written once.

use super::*;

/// Tumbling, hopping or session windows over pushes of rows, each window
/// emitted once the watermark (the largest time pushed minus ``lateness``)
/// passes its end (a session's end is its last time + ``session_gap``). The keywords are ``window_agg``'s, plus ``lateness`` (a duration,
/// default 0).
///
/// ``push(data)`` returns the windows the push closed (a ``pyarrow.Table``
/// in ``window_agg``'s columns), ``advance(watermark)`` moves the watermark
/// without rows (a value in ticks of the time column), ``finish()`` emits
/// every open window, ``take_late()`` returns the rows that came too late
/// to count. ``snapshot()`` is the whole state as bytes and
/// ``WindowStream.restore(bytes)`` rebuilds it. A failed push leaves the
/// stream as it was. The GIL is released while the kernel runs.
///
/// >>> import pyarrow as pa, sash
/// >>> s = sash.WindowStream(time="ts", every=10, aggs=["count() as n"], lateness=2)
/// >>> s.push(pa.table({"ts": [1, 5, 11]})).num_rows
/// 0
/// >>> s.push(pa.table({"ts": [12]})).to_pydict()
/// {'window_start': [0], 'window_end': [10], 'n': [2]}
/// >>> s.finish().to_pydict()["n"]
/// [2]
#[pyclass(module = "sash._sash", name = "WindowStream")]
pub(crate) struct WindowStream {
    inner: Mutex<sash_core::WindowStream>,
}

/// Rolling aggregation over pushes of rows: each row's result is emitted
/// once the watermark (the largest time pushed minus ``lateness``) has
/// passed its time. The keywords are ``rolling``'s, plus ``lateness``.
///
/// Methods as ``WindowStream``'s; a push returns the rows whose results it
/// made final, in ``rolling``'s columns, by time (ties in arrival order).
///
/// >>> import pyarrow as pa, sash
/// >>> s = sash.RollingStream(time="ts", period=5, aggs=["count() as n"])
/// >>> s.push(pa.table({"ts": [1, 3, 4]})).to_pydict()
/// {'ts': [1, 3], 'n': [1, 2]}
/// >>> s.finish().to_pydict()
/// {'ts': [4], 'n': [3]}
#[pyclass(module = "sash._sash", name = "RollingStream")]
pub(crate) struct RollingStream {
    inner: Mutex<sash_core::RollingStream>,
}

/// The methods both stream classes have: the core's, with the GIL released.
macro_rules! stream_methods {
    ($class:ident, $core:ty, { $($new:tt)* }) => {
        impl $class {
            fn run<'py>(&self, py: Python<'py>, f: impl FnOnce(&mut $core) -> sash_core::Result<RecordBatch> + Send) -> PyResult<Bound<'py, PyAny>> {
                let inner = &self.inner;
                let out = compute(py, || f(&mut inner.lock().unwrap_or_else(|e| e.into_inner())))?;
                to_pyarrow(py, out.schema(), vec![out])
            }
        }

        #[pymethods]
        impl $class {
            $($new)*

            /// Takes rows (any Arrow input the batch function takes) and
            /// returns the results this push made final.
            fn push<'py>(&self, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
                let input = read_input(data)?;
                self.run(data.py(), move |stream| {
                    // One batch, so that the push is atomic whatever the input's chunks.
                    let batch = arrow_select::concat::concat_batches(&input.schema, &input.batches)?;
                    stream.push(&batch)
                })
            }

            /// Moves the watermark and returns the results that became final.
            /// The watermark is a value of the time column's kind
            /// (``datetime``, ``date``, numpy or pandas timestamp, converted
            /// to the column's unit and zone as Arrow casts) or an ``int`` in
            /// ticks of the time column.
            fn advance<'py>(&self, watermark: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
                let py = watermark.py();
                if watermark.is_instance_of::<PyInt>() && !watermark.is_instance_of::<PyBool>() {
                    let ticks: i64 = watermark.extract()?;
                    return self.run(py, move |stream| stream.advance(ticks));
                }
                let array = watermark_array(watermark)?;
                self.run(py, move |stream| stream.advance_to(array.as_ref()))
            }

            /// End of input: every open result; later pushes are an error.
            fn finish<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                self.run(py, |stream| stream.finish())
            }

            /// The rows that came too late to count, in arrival order; taking them clears them.
            fn take_late<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                self.run(py, |stream| stream.take_late())
            }

            /// The whole state as bytes (see ``restore``).
            fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
                let inner = &self.inner;
                let bytes = compute(py, || inner.lock().unwrap_or_else(|e| e.into_inner()).snapshot())?;
                Ok(pyo3::types::PyBytes::new(py, &bytes))
            }

            /// The stream a ``snapshot`` was taken of.
            #[staticmethod]
            fn restore(py: Python<'_>, data: Vec<u8>) -> PyResult<$class> {
                let stream = compute(py, || <$core>::restore(&data))?;
                Ok($class { inner: Mutex::new(stream) })
            }

            /// The watermark in ticks of the time column, or None before any time.
            #[getter]
            fn watermark(&self) -> Option<i64> {
                self.inner.lock().unwrap_or_else(|e| e.into_inner()).watermark()
            }

            /// Rows in, rows late, null times dropped, open windows (rows
            /// waiting for their result, for a RollingStream), state bytes.
            #[getter]
            fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
                let stats = self.inner.lock().unwrap_or_else(|e| e.into_inner()).stats();
                let out = PyDict::new(py);
                out.set_item("rows_in", stats.rows_in)?;
                out.set_item("rows_late", stats.rows_late)?;
                out.set_item("null_times_dropped", stats.null_times_dropped)?;
                out.set_item("open_windows", stats.open_windows)?;
                out.set_item("state_bytes", stats.state_bytes)?;
                Ok(out)
            }

            fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, pyo3::types::PyBytes>,))> {
                let py = slf.py();
                let restore = py.get_type::<$class>().getattr("restore")?;
                Ok((restore, (slf.borrow().snapshot(py)?,)))
            }
        }
    };
}

stream_methods!(WindowStream, sash_core::WindowStream, {
    #[new]
    #[pyo3(
        signature = (*, time=None, every=None, period=None, offset=None, session_gap=None, by=None, aggs=None, closed=None, null_time=None, lateness=None, **extra),
        text_signature = "(*, time, every=None, period=None, offset=None, session_gap=None, by=None, aggs, closed='left', null_time='error', lateness=0)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn new(
        time: Option<&Bound<'_, PyAny>>,
        every: Option<&Bound<'_, PyAny>>,
        period: Option<&Bound<'_, PyAny>>,
        offset: Option<&Bound<'_, PyAny>>,
        session_gap: Option<&Bound<'_, PyAny>>,
        by: Option<&Bound<'_, PyAny>>,
        aggs: Option<&Bound<'_, PyAny>>,
        closed: Option<&Bound<'_, PyAny>>,
        null_time: Option<&Bound<'_, PyAny>>,
        lateness: Option<&Bound<'_, PyAny>>,
        extra: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<WindowStream> {
        let py =
            extra.map(|e| e.py()).or(time.map(|t| t.py())).ok_or_else(|| PyTypeError::new_err("WindowStream() needs time= and aggs="))?;
        let mut keys = window_keys([time, every, period, offset, session_gap, by, aggs, closed, null_time]);
        keys.push(("lateness", lateness));
        let spec = spec_json(&keys, extra)?;
        let stream = sash_core::WindowStream::from_json(&spec.to_string()).map_err(|e| error::to_pyerr(py, e))?;
        Ok(WindowStream { inner: Mutex::new(stream) })
    }
});

stream_methods!(RollingStream, sash_core::RollingStream, {
    #[new]
    #[pyo3(
        signature = (*, time=None, period=None, by=None, aggs=None, closed=None, null_time=None, lateness=None, **extra),
        text_signature = "(*, time, period, by=None, aggs, closed='right', null_time='error', lateness=0)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn new(
        time: Option<&Bound<'_, PyAny>>,
        period: Option<&Bound<'_, PyAny>>,
        by: Option<&Bound<'_, PyAny>>,
        aggs: Option<&Bound<'_, PyAny>>,
        closed: Option<&Bound<'_, PyAny>>,
        null_time: Option<&Bound<'_, PyAny>>,
        lateness: Option<&Bound<'_, PyAny>>,
        extra: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<RollingStream> {
        let py = extra
            .map(|e| e.py())
            .or(time.map(|t| t.py()))
            .ok_or_else(|| PyTypeError::new_err("RollingStream() needs time=, period= and aggs="))?;
        let keys = [
            ("time", time),
            ("period", period),
            ("by", by),
            ("aggs", aggs),
            ("closed", closed),
            ("null_time", null_time),
            ("lateness", lateness),
        ];
        let spec = spec_json(&keys, extra)?;
        let stream = sash_core::RollingStream::from_json(&spec.to_string()).map_err(|e| error::to_pyerr(py, e))?;
        Ok(RollingStream { inner: Mutex::new(stream) })
    }
});

/// A watermark value as a one-value Arrow array (through ``pyarrow.array``).
fn watermark_array(watermark: &Bound<'_, PyAny>) -> PyResult<arrow_array::ArrayRef> {
    let py = watermark.py();
    let pyarrow = py.import(pyo3::intern!(py, "pyarrow"))?;
    let array = pyarrow
        .call_method1(pyo3::intern!(py, "array"), (PyList::new(py, [watermark])?,))
        .map_err(|e| PyTypeError::new_err(format!("the watermark {watermark} is not a time value: {e}")))?;
    Ok(array.extract::<pyo3_arrow::PyArray>()?.into_inner().0)
}
