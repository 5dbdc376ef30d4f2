//! Parsing (docs/parsing.md): `parse` and `read_log`.

use super::*;

pub(crate) static TO_LINES: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The parse spec: `format` plus the keyword options, key by key.
pub(crate) fn parse_spec(format: &Bound<'_, PyAny>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Value> {
    spec_json(&[("format", Some(format))], options)
}

/// What `sash.parse` was given: raw bytes (split into lines by the core) or
/// Arrow string/binary arrays (one line per element), imported without copying.
pub(crate) enum Lines {
    Bytes(arrow_buffer::Buffer),
    Arrays(Vec<arrow_array::ArrayRef>),
}

/// Keeps a `bytes` object alive for as long as a Buffer over its contents
/// lives (the parse's string views point into them). `bytes` never change
/// and pyo3 defers the decref of one dropped without the GIL.
struct KeptBytes(#[allow(dead_code)] Py<pyo3::types::PyBytes>);

// The object is only ever released (never read through) by the owner.
impl std::panic::RefUnwindSafe for KeptBytes {}

/// A `bytes` object's contents as an Arrow buffer, without copying them.
fn bytes_buffer(b: &Bound<'_, pyo3::types::PyBytes>) -> arrow_buffer::Buffer {
    let contents = b.as_bytes();
    let Some(start) = std::ptr::NonNull::new(contents.as_ptr().cast_mut()) else {
        return arrow_buffer::Buffer::from(contents);
    };
    let owner: std::sync::Arc<dyn arrow_buffer::alloc::Allocation> = std::sync::Arc::new(KeptBytes(b.clone().unbind()));
    // SAFETY: `start` points at `contents.len()` bytes owned by the bytes
    // object, which is immutable and which `owner` keeps alive.
    unsafe { arrow_buffer::Buffer::from_custom_allocation(start, contents.len(), owner) }
}

pub(crate) fn read_lines(lines: &Bound<'_, PyAny>) -> PyResult<Lines> {
    let py = lines.py();
    if let Ok(b) = lines.cast::<pyo3::types::PyBytes>() {
        return Ok(Lines::Bytes(bytes_buffer(b)));
    }
    let speaks_arrow = lines.hasattr(pyo3::intern!(py, "__arrow_c_stream__"))? || lines.hasattr(pyo3::intern!(py, "__arrow_c_array__"))?;
    let converted;
    let obj = if is_pyarrow_reader(lines)? {
        converted = READ_READER.import(py, "sash._convert", "read_reader")?.call1((lines,))?;
        &converted
    } else if speaks_arrow {
        lines
    } else {
        converted = TO_LINES.import(py, "sash._convert", "to_lines")?.call1((lines,))?;
        &converted
    };
    let any: AnyArray = obj.extract()?;
    let reader = any.into_reader()?;
    let arrays = reader.collect::<Result<Vec<_>, ArrowError>>().map_err(|e| match e {
        ArrowError::ExternalError(_) => PyErr::from(PyArrowError::from(e)),
        e => error::new_err(py, "invalid_input", format!("invalid input: could not read the Arrow stream: {e}")),
    })?;
    Ok(Lines::Arrays(arrays))
}

/// Parses log lines into typed columns, one output row per input line, in
/// order (``docs/parsing.md``).
///
/// ``lines`` is any Arrow string or binary array or chunked array (pyarrow,
/// polars Series, nanoarrow, anything with ``__arrow_c_array__`` /
/// ``__arrow_c_stream__``), a NumPy array or a list of str (converted by
/// pyarrow), or ``bytes`` holding whole lines (split at LF, CRLF or CR).
/// Arrow input is read without copying: string columns of the result are
/// ``string_view`` cells pointing into the input's own buffers.
///
/// ``format`` is ``"common"``, ``"combined"``, ``"syslog"``,
/// ``"apache_error"``, ``"logfmt"``, ``"json"`` or ``"regex"``; the keyword
/// options are the other keys of the parse spec (``on_error``, ``strings``,
/// ``timezone``, ``reference_time``, ``fields``, ``schema``, ``pattern``,
/// ``types``). An unknown or misplaced option raises
/// ``sash.InvalidSpecError`` naming it.
///
/// Returns a ``pyarrow.Table``: the format's columns, then ``_error`` (null
/// where the line parsed). With ``on_error="raise"`` the first bad line raises
/// ``sash.ParseError`` naming its line number. The GIL is released while
/// parsing.
///
/// >>> import sash
/// >>> t = sash.parse([
/// ...     '10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326',
/// ...     '10.0.0.2 - - [10/Oct/2000:13:55:37 -0700] "GET /b HTTP/1.0" 2x0 -',
/// ... ], "common")
/// >>> t.column("path").to_pylist(), t.column("status").to_pylist()
/// (['/a.gif', '/b'], [200, None])
/// >>> t.column("_error").to_pylist()[1]
/// "status at byte 60: expected a 3-digit status code, found '2x0'"
/// >>> sash.parse(["level=info ms=12"], "logfmt", fields={"ms": "int"}).to_pydict()
/// {'ms': [12], '_error': [None]}
/// >>> sash.parse(["x=1", "oops"], "regex", pattern=r"^x=(?P<x>\d+)$", types={"x": "int"}, on_error="raise")
/// Traceback (most recent call last):
/// ...
/// sash.ParseError: line 2 does not parse: pattern at byte 0: the line does not match the pattern
#[pyfunction]
#[pyo3(signature = (lines, format, **options), text_signature = "(lines, format, **options)")]
pub(crate) fn parse<'py>(
    lines: &Bound<'py, PyAny>,
    format: &Bound<'py, PyAny>,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = lines.py();
    let spec = parse_spec(format, options)?;
    let input = read_lines(lines)?;
    let (schema, batches) = compute(py, move || {
        let mut parser = sash_core::Parser::new(&sash_core::ParseSpec::from_value(&spec)?)?;
        let batches = match input {
            Lines::Bytes(buffer) => vec![parser.parse_bytes(&buffer)?.batch],
            Lines::Arrays(arrays) => {
                arrays.iter().map(|a| parser.parse_lines(a.as_ref()).map(|o| o.batch)).collect::<sash_core::Result<Vec<_>>>()?
            }
        };
        Ok((parser.schema(), batches))
    })?;
    to_pyarrow(py, schema, batches)
}

pub(crate) type FileReader = sash_core::ParseReader<std::io::BufReader<LogFile>>;

/// The batches of `read_log(..., batch_size=n)`: the core's `ParseReader`
/// (chunks of about 16 MiB ending at a line end, so memory stays bounded),
/// each chunk's output cut into batches of at most `n` rows (zero-copy slices).
#[pyclass(module = "sash._sash")]
pub(crate) struct _LogBatches {
    pub(crate) state: Mutex<(FileReader, Option<RecordBatch>)>,
    pub(crate) batch_size: usize,
}

#[pymethods]
impl _LogBatches {
    pub(crate) fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    pub(crate) fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let batch_size = self.batch_size;
        let state = &self.state;
        let next = compute(py, move || {
            let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
            let (reader, pending) = &mut *state;
            loop {
                if let Some(batch) = pending.take() {
                    if batch.num_rows() > batch_size {
                        *pending = Some(batch.slice(batch_size, batch.num_rows() - batch_size));
                        return Ok(Some(batch.slice(0, batch_size)));
                    }
                    if batch.num_rows() > 0 {
                        return Ok(Some(batch));
                    }
                }
                match reader.next() {
                    None => return Ok(None),
                    Some(out) => *pending = Some(out?.batch),
                }
            }
        })?;
        next.map(|b| PyRecordBatch::new(b).into_pyarrow(py)).transpose()
    }
}

/// `batch_size`: a positive int (a bool is no count, though Python says it is an int).
pub(crate) fn positive_count(value: &Bound<'_, PyAny>) -> PyResult<usize> {
    let bad = || {
        let shown = value.repr().map_or_else(|_| "?".to_string(), |r| r.to_string());
        PyValueError::new_err(format!("batch_size must be a positive integer (rows per batch), got {shown}"))
    };
    if value.cast::<PyBool>().is_ok() {
        return Err(bad());
    }
    if value.cast::<PyInt>().is_err() && !value.hasattr(pyo3::intern!(value.py(), "__index__"))? {
        return Err(PyTypeError::new_err(format!("batch_size must be an int, got {}", value.get_type().name()?)));
    }
    match value.extract::<i128>() {
        Ok(n) if n >= 1 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        _ => Err(bad()),
    }
}

pub(crate) fn log_path(path: &Bound<'_, PyAny>) -> PyResult<std::path::PathBuf> {
    path.extract()
}

/// A log file being read. A regular file is read as usual. Anything else
/// (a FIFO, a device, a socket) is read without blocking, waiting with
/// poll(2) in short steps between which the call's cancel check runs: a
/// blocked read(2) would only return on a signal if no library in the
/// process (Polars does) installed its handler with SA_RESTART.
#[derive(Debug)]
pub(crate) struct LogFile {
    pub(crate) file: std::fs::File,
    pub(crate) polled: bool,
}

/// How long one wait for a FIFO or device lasts before the cancel check.
pub(crate) const POLL_STEP_MS: i32 = 10;

/// Waits up to one step for `fd` to be readable (or hung up).
pub(crate) fn poll_step(fd: std::os::fd::RawFd) -> bool {
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut pfd, 1, POLL_STEP_MS) > 0 }
}

impl std::io::Read for LogFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::fd::AsRawFd;
        loop {
            match self.file.read(buf) {
                Err(e) if self.polled && e.kind() == std::io::ErrorKind::WouldBlock => {
                    if sash_core::cancel::is_cancelled() {
                        // The readers take Interrupted as "ask the cancel check".
                        return Err(std::io::ErrorKind::Interrupted.into());
                    }
                    poll_step(self.file.as_raw_fd());
                }
                result => return result,
            }
        }
    }
}

/// Opens a log for reading, stoppable by Ctrl-C: a FIFO is opened without
/// waiting, then waited on (for its first writer) in short polls between
/// which Python's signal handlers run.
pub(crate) fn open_log(py: Python<'_>, path: &std::path::Path) -> PyResult<LogFile> {
    use std::os::fd::{AsRawFd, FromRawFd};
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::FileTypeExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| PyValueError::new_err(format!("the path holds a NUL byte: {}", path.display())))?;
    // SAFETY: a NUL-terminated path; the descriptor is owned by the File below.
    let fd = py.detach(|| unsafe { libc::open(c_path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK) });
    if fd < 0 {
        return Err(error::io_error(path, std::io::Error::last_os_error()));
    }
    // SAFETY: a descriptor just opened, owned by nobody else.
    let file = unsafe { std::fs::File::from_raw_fd(fd) };
    let kind = file.metadata().map_err(|e| error::io_error(path, e))?.file_type();
    if kind.is_dir() {
        return Err(error::io_error(path, std::io::Error::from_raw_os_error(libc::EISDIR)));
    }
    if kind.is_file() {
        // SAFETY: fcntl on our own descriptor.
        unsafe { libc::fcntl(fd, libc::F_SETFL, libc::fcntl(fd, libc::F_GETFL) & !libc::O_NONBLOCK) };
        return Ok(LogFile { file, polled: false });
    }
    if kind.is_fifo() {
        // Until a writer comes, a read would say "end of file": wait for one
        // (readable or hung up means it came).
        while !py.detach(|| poll_step(file.as_raw_fd())) {
            py.check_signals()?;
        }
    }
    Ok(LogFile { file, polled: true })
}

/// A whole log file in memory, read in pieces so that a cancelled call
/// (Ctrl-C) stops between them, also on an endless file such as /dev/zero.
/// The outer error is the cancellation, the inner one the OS's.
pub(crate) fn read_whole(mut file: LogFile) -> sash_core::Result<std::io::Result<Vec<u8>>> {
    use std::io::Read;
    const PIECE: usize = 16 << 20;
    let metadata = file.file.metadata();
    let regular = !file.polled;
    let mut bytes = Vec::with_capacity(metadata.map_or(0, |m| m.len() as usize).saturating_add(1));
    loop {
        sash_core::cancel::check()?;
        if regular {
            // No wait on a regular file: read_to_end fills without zeroing first.
            match (&mut file).take(PIECE as u64).read_to_end(&mut bytes) {
                Ok(0) => return Ok(Ok(bytes)),
                Ok(_) => continue,
                Err(e) => return Ok(Err(e)),
            }
        }
        // A pipe or a device may wait: one read at a time (LogFile's waits
        // come back as Interrupted), so that the cancel check runs between
        // them; pieces are joined at
        // the end, so that no regrowth copies gigabytes between two checks.
        let mut pieces: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut piece = vec![0u8; PIECE];
            let mut filled = 0;
            while filled < PIECE {
                sash_core::cancel::check()?;
                match file.read(&mut piece[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Ok(Err(e)),
                }
            }
            piece.truncate(filled);
            pieces.push(piece);
            if filled < PIECE {
                return Ok(Ok(pieces.concat()));
            }
        }
    }
}

/// Reads and parses a log file (``docs/parsing.md``): like :func:`parse` on
/// the file's lines (LF, CRLF or CR ends), with the same ``format`` and
/// keyword options. ``path`` is a ``str`` or ``os.PathLike``.
///
/// Without ``batch_size`` returns a ``pyarrow.Table``: the file is read
/// into one buffer and its string columns are views into it (memory: the
/// file plus the typed columns). With ``batch_size=n`` returns a
/// ``pyarrow.RecordBatchReader`` yielding batches of at most ``n`` rows while
/// the file is read in chunks of about 16 MiB (the core's ``ParseReader``):
/// memory stays bounded whatever the file size. Line numbers in ``on_error="raise"``
/// errors count from the start of the file. The GIL is released while
/// reading and parsing.
///
/// A gzip-compressed file (``access.log.1.gz``, recognized by its first
/// bytes, whatever its name) is decompressed as it is read. A truncated or
/// corrupt one raises :class:`InvalidInputError`; a ``RecordBatchReader``
/// first yields every complete line it could decompress.
///
/// >>> import sash, tempfile, os
/// >>> path = os.path.join(tempfile.mkdtemp(), "app.log")
/// >>> _ = open(path, "w").write("ts=2024-01-01T00:00:00Z ms=5\nts=2024-01-01T00:00:01Z ms=7\n")
/// >>> spec = dict(fields={"ts": "timestamp", "ms": "int"})
/// >>> sash.read_log(path, "logfmt", **spec).column("ms").to_pylist()
/// [5, 7]
/// >>> reader = sash.read_log(path, "logfmt", batch_size=1, **spec)
/// >>> [b.num_rows for b in reader]
/// [1, 1]
#[pyfunction]
#[pyo3(signature = (path, format, *, batch_size=None, **options), text_signature = "(path, format, *, batch_size=None, **options)")]
pub(crate) fn read_log<'py>(
    py: Python<'py>,
    path: &Bound<'py, PyAny>,
    format: &Bound<'py, PyAny>,
    batch_size: Option<&Bound<'py, PyAny>>,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let spec = parse_spec(format, options)?;
    let batch_size = batch_size.filter(|b| !b.is_none()).map(positive_count).transpose()?;
    let path = log_path(path)?;
    match batch_size {
        None => {
            let file = open_log(py, &path)?;
            let bytes = compute(py, move || read_whole(file))?.map_err(|e| error::io_error(&path, e))?;
            let (schema, batch) = compute(py, move || {
                let mut parser = sash_core::Parser::new(&sash_core::ParseSpec::from_value(&spec)?)?;
                let out = parser.parse_bytes(&arrow_buffer::Buffer::from_vec(bytes))?;
                Ok((parser.schema(), out.batch))
            })?;
            to_pyarrow(py, schema, vec![batch])
        }
        Some(n) => {
            let file = open_log(py, &path)?;
            let reader =
                compute(py, move || sash_core::ParseReader::new(std::io::BufReader::new(file), &sash_core::ParseSpec::from_value(&spec)?))?;
            let schema = reader.schema();
            let batches = Bound::new(py, _LogBatches { state: Mutex::new((reader, None)), batch_size: n })?;
            let pa_schema = PySchema::new(schema).into_pyarrow(py)?;
            let pa = py.import("pyarrow")?;
            pa.getattr("RecordBatchReader")?.call_method1("from_batches", (pa_schema, batches))
        }
    }
}
