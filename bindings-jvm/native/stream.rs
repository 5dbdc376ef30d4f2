//! `dev.sash.WindowStream`'s native half: a core `WindowStream` behind a
//! handle (a boxed mutex, its address as a Java long).

use crate::{export_single, kernel_call, ptr, spec_string, take_single, Result};
use jni::objects::{JByteArray, JClass, JString};
use jni::sys::{jboolean, jlong};
use jni::{Env, EnvUnowned};
use sash_core::WindowStream;
use sash_ffi::import::import_batch;
use sash_ffi::status::{Error, SashStatus};
use std::sync::Mutex;

type Handle = Mutex<WindowStream>;

fn handle<'a>(address: jlong) -> Result<&'a Handle> {
    if address == 0 {
        return Err(Error::new(SashStatus::NullArgument, "the stream is closed").into());
    }
    // SAFETY: a live handle from windowStreamNew/Restore; Java frees it once, after its last call.
    Ok(unsafe { &*ptr::<Handle>(address) })
}

fn new_handle(stream: WindowStream) -> jlong {
    Box::into_raw(Box::new(Mutex::new(stream))) as jlong
}

/// Runs `f` on the stream and exports its result.
fn with_stream(
    env: &Env<'_>,
    address: jlong,
    spark_types: bool,
    out_array: jlong,
    out_schema: jlong,
    f: impl FnOnce(&mut WindowStream) -> sash_core::Result<arrow_array::RecordBatch>,
) -> Result<()> {
    sash_ffi::import::not_null(ptr::<arrow_array::ffi::FFI_ArrowArray>(out_array), "outArray")?;
    sash_ffi::import::not_null(ptr::<arrow_array::ffi::FFI_ArrowSchema>(out_schema), "outSchema")?;
    let stream = handle(address)?;
    let out = kernel_call(env, || Ok(f(&mut stream.lock().unwrap_or_else(|e| e.into_inner()))?))?;
    export_single(out, spark_types, out_array, out_schema)
}

/// `NativeLib.windowStreamNew(spec)`: a handle.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_sash_NativeLib_windowStreamNew<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    spec: JString<'local>,
) -> jlong {
    unowned
        .with_env(|env| -> Result<jlong> {
            let spec = spec_string(env, &spec)?;
            Ok(new_handle(WindowStream::from_json(&spec)?))
        })
        .resolve::<crate::error::ThrowSashException>()
}

/// `NativeLib.windowStreamPush(handle, array, schema, sparkTypes, outArray, outSchema)`.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_dev_sash_NativeLib_windowStreamPush<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    address: jlong,
    array: jlong,
    schema: jlong,
    spark_types: jboolean,
    out_array: jlong,
    out_schema: jlong,
) {
    unowned
        .with_env(|env| -> Result<()> {
            let (array, schema) = take_single(array, schema, out_array, out_schema)?;
            let (_, batch) = import_batch(array, &schema)?;
            with_stream(env, address, spark_types, out_array, out_schema, |s| s.push(&batch))
        })
        .resolve::<crate::error::ThrowSashException>()
}

/// `NativeLib.windowStreamAdvance(handle, watermark, sparkTypes, outArray, outSchema)`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_sash_NativeLib_windowStreamAdvance<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    address: jlong,
    watermark: jlong,
    spark_types: jboolean,
    out_array: jlong,
    out_schema: jlong,
) {
    unowned
        .with_env(|env| -> Result<()> { with_stream(env, address, spark_types, out_array, out_schema, |s| s.advance(watermark)) })
        .resolve::<crate::error::ThrowSashException>()
}

/// An entry point `(handle, sparkTypes, outArray, outSchema)` that writes
/// what `$call` returns.
macro_rules! output_entry {
    ($(#[$doc:meta])* $name:ident, $call:expr) => {
        $(#[$doc])*
        #[unsafe(no_mangle)]
        pub extern "system" fn $name<'local>(
            mut unowned: EnvUnowned<'local>,
            _class: JClass<'local>,
            address: jlong,
            spark_types: jboolean,
            out_array: jlong,
            out_schema: jlong,
        ) {
            unowned
                .with_env(|env| -> Result<()> { with_stream(env, address, spark_types, out_array, out_schema, $call) })
                .resolve::<crate::error::ThrowSashException>()
        }
    };
}

output_entry!(
    /// `NativeLib.windowStreamFinish(handle, sparkTypes, outArray, outSchema)`.
    Java_dev_sash_NativeLib_windowStreamFinish,
    |s: &mut WindowStream| s.finish()
);
output_entry!(
    /// `NativeLib.windowStreamTakeLate(handle, sparkTypes, outArray, outSchema)`.
    Java_dev_sash_NativeLib_windowStreamTakeLate,
    |s: &mut WindowStream| s.take_late()
);

/// `NativeLib.windowStreamSnapshot(handle)`: the state as bytes.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_sash_NativeLib_windowStreamSnapshot<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    address: jlong,
) -> JByteArray<'local> {
    unowned
        .with_env(|env| -> Result<JByteArray<'local>> {
            let stream = handle(address)?;
            let bytes = kernel_call(env, || Ok(stream.lock().unwrap_or_else(|e| e.into_inner()).snapshot()?))?;
            Ok(env.byte_array_from_slice(&bytes)?)
        })
        .resolve::<crate::error::ThrowSashException>()
}

/// `NativeLib.windowStreamRestore(bytes)`: a handle.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_sash_NativeLib_windowStreamRestore<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    bytes: JByteArray<'local>,
) -> jlong {
    unowned
        .with_env(|env| -> Result<jlong> {
            if bytes.is_null() {
                return Err(Error::new(SashStatus::NullArgument, "bytes is null").into());
            }
            let data = env.convert_byte_array(&bytes)?;
            let stream = kernel_call(env, || Ok(WindowStream::restore(&data)?))?;
            Ok(new_handle(stream))
        })
        .resolve::<crate::error::ThrowSashException>()
}

/// `NativeLib.windowStreamFree(handle)` (0 is ignored).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_sash_NativeLib_windowStreamFree<'local>(
    _unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    address: jlong,
) {
    if address != 0 {
        // SAFETY: a handle from windowStreamNew/Restore, freed once by WindowStream.close.
        drop(unsafe { Box::from_raw(ptr::<Handle>(address)) });
    }
}
