//! Private helpers for the tests and the benchmark (not part of the API).

use super::*;

/// The core's brute-force reference `window_agg` (the executable spec), for tests.
#[cfg(feature = "reference")]
#[pyfunction]
pub(crate) fn _reference_window_agg<'py>(data: &Bound<'py, PyAny>, spec: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = data.py();
    let out = run_window(py, read_input(data)?, spec_from_dict(spec)?, sash_core::reference::window_agg)?;
    to_pyarrow(py, out.schema(), vec![out])
}

/// The core's brute-force reference `rolling`, for tests.
#[cfg(feature = "reference")]
#[pyfunction]
pub(crate) fn _reference_rolling<'py>(data: &Bound<'py, PyAny>, spec: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = data.py();
    let (schema, out) = run_rolling(py, read_input(data)?, spec_from_dict(spec)?, reference_rolling)?;
    to_pyarrow(py, schema, out)
}

/// Buffer addresses: `[batch][column][buffer]`.
pub(crate) type Addresses = Vec<Vec<Vec<usize>>>;

/// Addresses of every buffer of every column, batch by batch (validity
/// first, then offsets/values, as pyarrow's `Array.buffers()` lists them),
/// as Rust sees them.
pub(crate) fn buffer_addresses(batches: &[RecordBatch]) -> Addresses {
    fn of(data: &arrow_array::ArrayRef) -> Vec<usize> {
        let d = data.to_data();
        let mut out: Vec<usize> = d.nulls().map(|n| n.buffer().as_ptr() as usize).into_iter().collect();
        out.extend(d.buffers().iter().map(|b| b.as_ptr() as usize));
        out
    }
    batches.iter().map(|b| b.columns().iter().map(of).collect()).collect()
}

/// Runs `window_agg` (op "window_agg") or `rolling` (op "rolling") with a
/// dict spec, through the same path as the public functions, and also
/// returns the buffer addresses of the output as Rust saw them just before
/// handing it to pyarrow: `(table, [batch][column][buffer address])`. The
/// zero-copy tests compare them with pyarrow's `Buffer.address`.
#[pyfunction]
pub(crate) fn _traced<'py>(op: &str, data: &Bound<'py, PyAny>, spec: &Bound<'py, PyAny>) -> PyResult<(Bound<'py, PyAny>, Addresses)> {
    let py = data.py();
    let input = read_input(data)?;
    let spec = spec_from_dict(spec)?;
    let (schema, out) = match op {
        "window_agg" => {
            let out = run_window(py, input, spec, sash_core::window_agg)?;
            (out.schema(), vec![out])
        }
        "rolling" => run_rolling(py, input, spec, kernel_rolling)?,
        other => return Err(PyTypeError::new_err(format!("unknown op {other}"))),
    };
    let addresses = buffer_addresses(&out);
    Ok((to_pyarrow(py, schema, out)?, addresses))
}

/// Times the kernel alone on already imported data: the best of `repeat`
/// runs of `window_agg`/`rolling`, in seconds, as the Rust benchmark does
/// (spec parsing included, output materialized, nothing exported). The
/// benchmark compares it with the time of the whole Python call.
#[pyfunction]
pub(crate) fn _kernel_seconds(py: Python<'_>, op: &str, data: &Bound<'_, PyAny>, spec: &Bound<'_, PyAny>, repeat: usize) -> PyResult<f64> {
    let input = read_input(data)?;
    let spec = spec_from_dict(spec)?;
    let window = match op {
        "window_agg" => true,
        "rolling" => false,
        other => return Err(PyTypeError::new_err(format!("unknown op {other}"))),
    };
    compute(py, move || {
        let mut best = f64::INFINITY;
        for _ in 0..repeat.max(1) {
            let start = Instant::now();
            if window {
                let spec = sash_core::WindowSpec::from_value(&spec)?;
                std::hint::black_box(sash_core::window_agg(&input.schema, &input.batches, &spec)?);
            } else {
                let spec = sash_core::RollingSpec::from_value(&spec)?;
                std::hint::black_box(sash_core::rolling(&input.schema, &input.batches, &spec)?);
            }
            best = best.min(start.elapsed().as_secs_f64());
        }
        Ok(best)
    })
}

/// The core stream alone, for the streaming benchmark's Python overhead:
/// the input's rows pushed in pushes of `push_rows` (sliced before the clock
/// starts) into a fresh `WindowStream` (`op` "window_agg") or `RollingStream`
/// ("rolling") of `spec`, then `finish()`; `rounds` times, the best seconds.
/// With `push_rows` 0 the input is pushed whole `rounds` times into one stream
/// and the result is the mean seconds per push (the one-row push).
#[pyfunction]
pub(crate) fn _stream_kernel_seconds(
    py: Python<'_>,
    op: &str,
    data: &Bound<'_, PyAny>,
    spec: &Bound<'_, PyAny>,
    push_rows: usize,
    rounds: usize,
) -> PyResult<f64> {
    let input = read_input(data)?;
    let spec = spec_from_dict(spec)?.to_string();
    let window = match op {
        "window_agg" => true,
        "rolling" => false,
        other => return Err(PyTypeError::new_err(format!("unknown op {other}"))),
    };
    compute(py, move || {
        let whole = arrow_select::concat::concat_batches(&input.schema, &input.batches)?;
        let pushes: Vec<RecordBatch> = if push_rows == 0 {
            vec![whole]
        } else {
            (0..whole.num_rows()).step_by(push_rows).map(|at| whole.slice(at, push_rows.min(whole.num_rows() - at))).collect()
        };
        macro_rules! time_stream {
            ($new:expr) => {{
                if push_rows == 0 {
                    let mut stream = $new?;
                    let start = Instant::now();
                    for _ in 0..rounds.max(1) {
                        std::hint::black_box(stream.push(&pushes[0])?);
                    }
                    start.elapsed().as_secs_f64() / rounds.max(1) as f64
                } else {
                    let mut best = f64::INFINITY;
                    for _ in 0..rounds.max(1) {
                        let mut stream = $new?;
                        let start = Instant::now();
                        for push in &pushes {
                            std::hint::black_box(stream.push(push)?);
                        }
                        std::hint::black_box(stream.finish()?);
                        best = best.min(start.elapsed().as_secs_f64());
                    }
                    best
                }
            }};
        }
        Ok(if window {
            time_stream!(sash_core::WindowStream::from_json(&spec))
        } else {
            time_stream!(sash_core::RollingStream::from_json(&spec))
        })
    })
}

/// Every core error kind and the name of its exception class (None if it has
/// none), for the test that each kind maps to its own class.
#[pyfunction]
pub(crate) fn _error_kinds() -> Vec<(&'static str, Option<&'static str>)> {
    error::kind_classes()
}

/// Panics inside the guarded compute section, to test that no panic reaches Python.
#[pyfunction]
pub(crate) fn _panic(py: Python<'_>, message: String) -> PyResult<()> {
    compute(py, move || -> sash_core::Result<()> { panic!("{message}") })
}

/// The reference's rolling, as (schema, batches): it returns one batch, so
/// zero batches in still give one (empty) out.
#[cfg(feature = "reference")]
fn reference_rolling(
    schema: &SchemaRef,
    batches: Vec<RecordBatch>,
    spec: &sash_core::RollingSpec,
) -> sash_core::Result<(SchemaRef, Vec<RecordBatch>)> {
    let batches = if batches.is_empty() { vec![RecordBatch::new_empty(schema.clone())] } else { batches };
    let out = sash_core::reference::rolling(schema, &batches, spec)?;
    Ok((out.schema(), vec![out]))
}
