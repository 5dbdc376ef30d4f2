//! The one mapping from core errors to Python exceptions.
//!
//! `sash.SashError` is the base of the hierarchy; each core [`ErrorKind`] has
//! its own class that also subclasses the matching builtin, so code that
//! already catches `ValueError` or `TypeError` keeps working. Every class
//! carries its kind as the class attribute `kind` (the corpus' names), and
//! the message is the core's `Display` text, unchanged.
//!
//! `unknown_column` maps to `ValueError`, not `KeyError`: `str(KeyError(msg))`
//! wraps the message in quotes, so the core's message would not reach the
//! user intact.
//!
//! The classes are made with `type(name, (SashError, builtin), ns)` when the
//! module is initialised (pyo3's `create_exception!` takes one base only).

use pyo3::exceptions::{PyException, PyOSError, PyOverflowError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use sash_core::{ErrorKind, SashError};
use std::any::Any;

/// Kind name of the class raised when a Rust panic is caught: a bug in sash.
pub const INTERNAL: &str = "internal";

/// Which builtin each class also subclasses.
#[derive(Clone, Copy)]
enum Builtin {
    Value,
    Type,
    Overflow,
    Runtime,
}

/// (class name, kind, builtin, docstring), one per core kind plus the panic class.
const CLASSES: &[(&str, &str, Builtin, &str)] = &[
    ("UnknownColumnError", "unknown_column", Builtin::Value, "A column named in the spec is not in the input."),
    ("WrongTypeError", "wrong_type", Builtin::Type, "A column has a type the operation cannot take."),
    (
        "InvalidSpecError",
        "invalid_spec",
        Builtin::Value,
        "The spec is inconsistent or incomplete (unknown key, missing aggs, every <= 0, ...).",
    ),
    ("InvalidDurationError", "invalid_duration", Builtin::Value, "A duration cannot be parsed or does not fit the time column."),
    ("UnknownFunctionError", "unknown_function", Builtin::Value, "An aggregation names a function sash does not know."),
    ("InvalidExpressionError", "invalid_expression", Builtin::Value, "An aggregation expression does not follow the grammar."),
    ("NullTimeError", "null_time", Builtin::Value, "The time column holds nulls and null_time is \"error\"."),
    (
        "SashOverflowError",
        "overflow",
        Builtin::Overflow,
        "An integer result does not fit its type (sum overflow, window bound out of range).",
    ),
    ("InvalidInputError", "invalid_input", Builtin::Value, "The input data itself is unusable (mismatched batches, malformed arrays)."),
    (
        "ParseError",
        "parse",
        Builtin::Value,
        "A line did not parse and on_error is \"raise\". The message names the line (1-based) and why.",
    ),
    ("ArrowError", "arrow", Builtin::Value, "An error raised by arrow-rs while processing the input."),
    (
        "ResourceLimitError",
        "resource_limit",
        Builtin::Value,
        "The call would exceed a documented resource limit (docs/limits.md): too many windows, too large a decompressed log, ...",
    ),
    (
        "CancelledError",
        "cancelled",
        Builtin::Runtime,
        "The call was cancelled before it finished. Ctrl-C raises KeyboardInterrupt itself; this class is for other cancellations.",
    ),
    ("InternalError", INTERNAL, Builtin::Runtime, "A bug in sash: the kernel panicked. The message says where; please report it."),
];

struct Classes {
    base: Py<PyType>,
    by_kind: Vec<(&'static str, Py<PyType>)>,
}

static CLASSES_CELL: PyOnceLock<Classes> = PyOnceLock::new();

fn builtin<'py>(py: Python<'py>, b: Builtin) -> Bound<'py, PyType> {
    match b {
        Builtin::Value => py.get_type::<PyValueError>(),
        Builtin::Type => py.get_type::<PyTypeError>(),
        Builtin::Overflow => py.get_type::<PyOverflowError>(),
        Builtin::Runtime => py.get_type::<PyRuntimeError>(),
    }
}

fn make_class<'py>(py: Python<'py>, name: &str, bases: Bound<'py, PyTuple>, kind: Option<&str>, doc: &str) -> PyResult<Bound<'py, PyType>> {
    let ns = PyDict::new(py);
    ns.set_item("__module__", "sash")?;
    ns.set_item("__doc__", doc)?;
    ns.set_item("kind", kind)?;
    let cls = py.get_type::<PyType>().call1((name, bases, ns))?;
    Ok(cls.cast_into::<PyType>()?)
}

/// Creates the classes (once per process) and adds them to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let classes = CLASSES_CELL.get_or_try_init(py, || -> PyResult<Classes> {
        let base = make_class(
            py,
            "SashError",
            PyTuple::new(py, [py.get_type::<PyException>()])?,
            None,
            "Base class of every error sash raises. `kind` names the error kind \
             (the conformance corpus' names, e.g. \"unknown_column\"); the message is the kernel's.",
        )?;
        let mut by_kind = Vec::with_capacity(CLASSES.len());
        for &(name, kind, b, doc) in CLASSES {
            let bases = PyTuple::new(py, [base.clone(), builtin(py, b)])?;
            by_kind.push((kind, make_class(py, name, bases, Some(kind), doc)?.unbind()));
        }
        Ok(Classes { base: base.unbind(), by_kind })
    })?;
    m.add("SashError", classes.base.bind(py))?;
    for ((name, ..), (_, cls)) in CLASSES.iter().zip(&classes.by_kind) {
        m.add(*name, cls.bind(py))?;
    }
    Ok(())
}

fn class_of<'py>(py: Python<'py>, kind: &str) -> Bound<'py, PyType> {
    let classes = CLASSES_CELL.get(py).expect("the module registered its error classes at import");
    classes
        .by_kind
        .iter()
        .find(|(k, _)| *k == kind)
        .or_else(|| classes.by_kind.iter().find(|(k, _)| *k == "invalid_input"))
        .map(|(_, cls)| cls.bind(py).clone())
        .expect("every kind has a class")
}

/// Every core kind (`ErrorKind::ALL`) with the name of its class, or None
/// where the table lacks it: the tests check that none does.
pub fn kind_classes() -> Vec<(&'static str, Option<&'static str>)> {
    ErrorKind::ALL.iter().map(|k| (k.as_str(), CLASSES.iter().find(|(_, kind, ..)| *kind == k.as_str()).map(|(name, ..)| *name))).collect()
}

/// A core error as the matching `sash` exception, message intact.
pub fn to_pyerr(py: Python<'_>, err: SashError) -> PyErr {
    let kind: ErrorKind = err.kind();
    PyErr::from_type(class_of(py, kind.as_str()), err.to_string())
}

/// An error of the given kind with our own message (input conversion problems).
pub fn new_err(py: Python<'_>, kind: &str, msg: String) -> PyErr {
    PyErr::from_type(class_of(py, kind), msg)
}

/// A failure to read `path` as the builtin `OSError` subclass of its errno
/// (`FileNotFoundError`, `IsADirectoryError`, ...) with the path in its
/// message and `filename`, as Python's own `open` reports it.
pub fn io_error(path: &std::path::Path, err: std::io::Error) -> PyErr {
    let reason = err.to_string();
    // "No such file or directory (os error 2)": Python shows the errno apart.
    let reason = reason.split(" (os error").next().unwrap_or(&reason).to_string();
    match err.raw_os_error() {
        Some(code) => PyOSError::new_err((code, reason, path.to_string_lossy().into_owned())),
        None => PyOSError::new_err(format!("{reason}: '{}'", path.display())),
    }
}

/// A caught panic as `sash.InternalError`.
pub fn panic_to_pyerr(py: Python<'_>, payload: Box<dyn Any + Send>) -> PyErr {
    new_err(py, INTERNAL, sash_ffi::panic::internal_message(payload.as_ref()))
}
