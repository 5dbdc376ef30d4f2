//! The one mapping from sash errors to Java exceptions.
//!
//! Spec problems (the spec names a column that is not there, a column of the
//! wrong type, a bad duration, function or expression, a NULL argument)
//! become `dev.sash.SashSpecException`, an `IllegalArgumentException`; a call
//! cancelled by `Thread.interrupt()` becomes `dev.sash.SashCancelledException`
//! (a `SashException`); everything else (null times, overflow, malformed
//! input, a resource limit, a line that did not parse under `on_error:
//! "raise"`, a caught panic) becomes `dev.sash.SashException`. All carry the
//! kind name of the conformance corpus (`kind()`, [`kind_names`] lists them
//! all) and the core's message unchanged.

use arrow_schema::ArrowError;
use jni::errors::ErrorPolicy;
use jni::objects::{JString, JThrowable};
use jni::strings::JNIStr;
use jni::{jni_sig, jni_str, Env};
use sash_ffi::status::{Error, SashStatus};
use std::cell::RefCell;

/// An error of a JNI entry point: a sash error, or a JNI failure (then a Java
/// exception may already be pending).
#[derive(Debug)]
pub enum JvmError {
    Sash(Error),
    Jni(jni::errors::Error),
}

impl std::fmt::Display for JvmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JvmError::Sash(e) => f.write_str(&e.message),
            JvmError::Jni(e) => write!(f, "JNI error: {e}"),
        }
    }
}

impl std::error::Error for JvmError {}

impl From<jni::errors::Error> for JvmError {
    fn from(e: jni::errors::Error) -> Self {
        JvmError::Jni(e)
    }
}

impl From<Error> for JvmError {
    fn from(e: Error) -> Self {
        JvmError::Sash(e)
    }
}

impl From<sash_core::SashError> for JvmError {
    fn from(e: sash_core::SashError) -> Self {
        JvmError::Sash(e.into())
    }
}

impl From<arrow_schema::ArrowError> for JvmError {
    fn from(e: arrow_schema::ArrowError) -> Self {
        JvmError::Sash(e.into())
    }
}

/// Whether a status means "the caller's spec or arguments are wrong".
fn is_spec_error(status: SashStatus) -> bool {
    matches!(
        status,
        SashStatus::NullArgument
            | SashStatus::UnknownColumn
            | SashStatus::WrongType
            | SashStatus::InvalidSpec
            | SashStatus::InvalidDuration
            | SashStatus::UnknownFunction
            | SashStatus::InvalidExpression
    )
}

/// The Java exception class of a status (a JNI class name), and whether its
/// constructor takes the kind: `(String kind, String message)`, or only
/// `(String message)` for the one-kind `SashCancelledException`.
fn exception_class(status: SashStatus) -> (&'static JNIStr, bool) {
    if status == SashStatus::Cancelled {
        (jni_str!("dev/sash/SashCancelledException"), false)
    } else if is_spec_error(status) {
        (jni_str!("dev/sash/SashSpecException"), true)
    } else {
        (jni_str!("dev/sash/SashException"), true)
    }
}

/// Every status an exception can carry (all but `Ok`), in code order.
fn error_statuses() -> impl Iterator<Item = SashStatus> {
    (1..=99).filter_map(SashStatus::from_code)
}

/// Every kind name a Java exception of the library can carry: the binding's
/// own (`null_argument`, `released`, `invalid_array`), every core kind of
/// `ErrorKind::ALL`, and `internal`.
pub fn kind_names() -> Vec<&'static str> {
    error_statuses().map(SashStatus::name).collect()
}

/// The status of a kind name of [`kind_names`].
pub fn status_named(name: &str) -> Option<SashStatus> {
    error_statuses().find(|s| s.name() == name)
}

/// The Java exception of `status` with `message`, not thrown.
pub fn exception<'local>(env: &mut Env<'local>, status: SashStatus, message: &str) -> jni::errors::Result<JThrowable<'local>> {
    let (class, takes_kind) = exception_class(status);
    let message = JString::from_str(env, message)?;
    let exception = if takes_kind {
        let kind = JString::from_str(env, status.name())?;
        env.new_object(class, jni_sig!("(Ljava/lang/String;Ljava/lang/String;)V"), &[(&kind).into(), (&message).into()])?
    } else {
        env.new_object(class, jni_sig!("(Ljava/lang/String;)V"), &[(&message).into()])?
    };
    JThrowable::cast_local(env, exception)
}

/// Throws the Java exception of `status` with `message`.
fn throw(env: &mut Env<'_>, status: SashStatus, message: &str) -> jni::errors::Result<()> {
    let exception = exception(env, status, message)?;
    env.throw(exception)
}

thread_local! {
    /// The error of the last failed pull of a result stream on this thread.
    static PULL_ERROR: RefCell<Option<(SashStatus, String)>> = const { RefCell::new(None) };
}

/// Records (or, with None, forgets) the error of a pull on this thread.
pub fn set_pull_error(error: Option<(SashStatus, String)>) {
    PULL_ERROR.with(|e| *e.borrow_mut() = error);
}

/// Takes the error of this thread's last failed pull.
pub fn take_pull_error() -> Option<(SashStatus, String)> {
    PULL_ERROR.with(|e| e.borrow_mut().take())
}

/// The status and message of an error a result stream gave: a core error
/// keeps its kind and message; a failure of the input stream is
/// `invalid_input`; anything else is arrow-rs's.
pub fn pull_error(e: &ArrowError) -> (SashStatus, String) {
    if let ArrowError::ExternalError(inner) = e {
        if let Some(core) = inner.downcast_ref::<sash_core::SashError>() {
            return (sash_ffi::status::status_of(core.kind()), core.to_string());
        }
    }
    if let ArrowError::CDataInterface(message) = e {
        return (SashStatus::InvalidInput, message.clone());
    }
    (SashStatus::Arrow, e.to_string())
}

/// The error policy of every entry point: a sash error or a panic becomes a
/// Java exception (unless one is already pending) and the method returns its
/// default value, which Java never sees.
#[derive(Debug, Default)]
pub struct ThrowSashException;

impl<T: Default> ErrorPolicy<T, JvmError> for ThrowSashException {
    type Captures<'unowned_env_local: 'native_method, 'native_method> = ();

    fn on_error<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _cap: &mut Self::Captures<'unowned_env_local, 'native_method>,
        err: JvmError,
    ) -> jni::errors::Result<T> {
        if env.exception_check() {
            return Ok(T::default());
        }
        match err {
            JvmError::Sash(e) => throw(env, e.status, &e.message)?,
            JvmError::Jni(e) => throw(env, SashStatus::Internal, &format!("JNI error in sash: {e}"))?,
        }
        Ok(T::default())
    }

    fn on_panic<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _cap: &mut Self::Captures<'unowned_env_local, 'native_method>,
        payload: Box<dyn std::any::Any + Send + 'static>,
    ) -> jni::errors::Result<T> {
        if !env.exception_check() {
            let message = format!("internal error in sash (please report it): {}", sash_ffi::panic::panic_message(payload.as_ref()));
            throw(env, SashStatus::Internal, &message)?;
        }
        Ok(T::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sash_core::ErrorKind;

    /// The documented table (README "Errors"): the exception class of every kind name.
    const DOCUMENTED: &[(&str, &str)] = &[
        ("null_argument", "SashSpecException"),
        ("released", "SashException"),
        ("invalid_array", "SashException"),
        ("unknown_column", "SashSpecException"),
        ("wrong_type", "SashSpecException"),
        ("invalid_spec", "SashSpecException"),
        ("invalid_duration", "SashSpecException"),
        ("unknown_function", "SashSpecException"),
        ("invalid_expression", "SashSpecException"),
        ("null_time", "SashException"),
        ("overflow", "SashException"),
        ("invalid_input", "SashException"),
        ("parse", "SashException"),
        ("arrow", "SashException"),
        ("resource_limit", "SashException"),
        ("cancelled", "SashCancelledException"),
        ("internal", "SashException"),
    ];

    fn class_of(status: SashStatus) -> String {
        let (class, _) = exception_class(status);
        class.to_str().rsplit('/').next().unwrap().to_string()
    }

    #[test]
    fn every_core_kind_keeps_its_own_name_and_its_documented_class() {
        for &kind in ErrorKind::ALL {
            let error: JvmError = sash_ffi::status::Error::from(core_error(kind)).into();
            let JvmError::Sash(error) = error else { unreachable!() };
            assert_eq!(error.status.name(), kind.as_str(), "{kind:?}");
            assert_eq!(status_named(kind.as_str()), Some(error.status));
            let documented = DOCUMENTED.iter().find(|(name, _)| *name == kind.as_str());
            let Some((_, class)) = documented else { panic!("{kind:?} is not in the documented table") };
            assert_eq!(&class_of(error.status), class, "{kind:?}");
        }
        assert!(!is_spec_error(sash_ffi::status::status_of(ErrorKind::ResourceLimit)));
        assert!(!is_spec_error(sash_ffi::status::status_of(ErrorKind::Cancelled)));
    }

    #[test]
    fn the_kind_names_are_the_documented_table() {
        let names = kind_names();
        let documented: Vec<&str> = DOCUMENTED.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, documented, "a kind without a documented class, or the reverse");
        for (name, class) in DOCUMENTED {
            let status = status_named(name).unwrap();
            assert_eq!(status.name(), *name);
            assert_eq!(&class_of(status), class, "{name}");
        }
        assert_eq!(status_named("ok"), None);
        assert_eq!(status_named("no_such_kind"), None);
    }

    #[test]
    fn a_pull_error_keeps_the_core_kind() {
        let cancelled = ArrowError::ExternalError(Box::new(sash_core::SashError::Cancelled));
        let (status, message) = pull_error(&cancelled);
        assert_eq!(status.name(), "cancelled");
        assert_eq!(message, sash_core::SashError::Cancelled.to_string());
        let parse = ArrowError::ExternalError(Box::new(sash_core::SashError::Parse { line: 3, message: "bad".into() }));
        assert_eq!(pull_error(&parse).0.name(), "parse");
        assert_eq!(pull_error(&ArrowError::CDataInterface("the input failed".into())).0.name(), "invalid_input");
        assert_eq!(pull_error(&ArrowError::ComputeError("x".into())).0.name(), "arrow");
        set_pull_error(Some(pull_error(&cancelled)));
        assert_eq!(take_pull_error().map(|(s, _)| s), Some(SashStatus::Cancelled));
        assert_eq!(take_pull_error(), None);
    }

    /// A core error of each kind.
    fn core_error(kind: ErrorKind) -> sash_core::SashError {
        use sash_core::SashError as E;
        let all = [
            E::UnknownColumn { name: "x".into(), available: vec![] },
            E::WrongType { column: "x".into(), expected: "int".into(), found: arrow_schema::DataType::Utf8 },
            E::InvalidSpec("x".into()),
            E::InvalidDuration { input: "1x".into(), reason: "x".into() },
            E::UnknownFunction { name: "x".into(), expected: &["count"] },
            E::InvalidExpression { expr: "x".into(), reason: "x".into() },
            E::NullTime { column: "ts".into(), count: 1 },
            E::Overflow("x".into()),
            E::InvalidInput("x".into()),
            E::Parse { line: 1, message: "x".into() },
            E::Arrow(ArrowError::ComputeError("x".into())),
            E::ResourceLimit("x".into()),
            E::Cancelled,
        ];
        all.into_iter().find(|e| e.kind() == kind).unwrap_or_else(|| panic!("no error of kind {kind:?} here: add one"))
    }
}
