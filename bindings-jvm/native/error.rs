//! The one mapping from sash errors to Java exceptions.
//!
//! Spec problems (the spec names a column that is not there, a column of the
//! wrong type, a bad duration, function or expression, a NULL argument)
//! become `dev.sash.SashSpecException`, an `IllegalArgumentException`;
//! everything else (null times, overflow, malformed input, a line that did
//! not parse under `on_error: "raise"`, a caught panic) becomes
//! `dev.sash.SashException`. Both carry the kind name of the conformance
//! corpus (`kind()`) and the core's message unchanged.

use jni::errors::ErrorPolicy;
use jni::objects::{JString, JThrowable};
use jni::{jni_sig, jni_str, Env};
use sash::error::{Error, SashStatus};

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

/// Throws the Java exception of `status` with `message`.
fn throw(env: &mut Env<'_>, status: SashStatus, message: &str) -> jni::errors::Result<()> {
    let kind = JString::from_str(env, status.name())?;
    let message = JString::from_str(env, message)?;
    let args = [(&kind).into(), (&message).into()];
    let sig = jni_sig!("(Ljava/lang/String;Ljava/lang/String;)V");
    let exception = if is_spec_error(status) {
        env.new_object(jni_str!("dev/sash/SashSpecException"), sig, &args)?
    } else {
        env.new_object(jni_str!("dev/sash/SashException"), sig, &args)?
    };
    let exception = JThrowable::cast_local(env, exception)?;
    env.throw(exception)
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
            let message = format!("internal error in sash (please report it): {}", sash::error::panic_message(payload.as_ref()));
            throw(env, SashStatus::Internal, &message)?;
        }
        Ok(T::default())
    }
}
