//! The native half of `dev.sash.WindowStream` and `dev.sash.RollingStream`:
//! a core stream behind a handle (a boxed mutex, its address as a Java
//! long). The entry points of both kinds come from one macro.

use crate::{export_single, kernel_call, ptr, spec_string, take_single, Result};
use jni::objects::{JByteArray, JClass, JLongArray, JString};
use jni::sys::{jboolean, jlong};
use jni::{Env, EnvUnowned};
use sash_core::{RollingStream, WindowStream};
use sash_ffi::import::import_batch;
use sash_ffi::status::{Error, SashStatus};
use std::sync::Mutex;

fn handle<'a, T>(address: jlong) -> Result<&'a Mutex<T>> {
    if address == 0 {
        return Err(Error::new(SashStatus::NullArgument, "the stream is closed").into());
    }
    // SAFETY: a live handle of this kind from its New/Restore; Java frees it once, after its last call.
    Ok(unsafe { &*ptr::<Mutex<T>>(address) })
}

fn new_handle<T>(stream: T) -> jlong {
    Box::into_raw(Box::new(Mutex::new(stream))) as jlong
}

/// Runs `f` on the stream and exports its result.
fn with_stream<T>(
    env: &Env<'_>,
    address: jlong,
    spark_types: bool,
    out_array: jlong,
    out_schema: jlong,
    f: impl FnOnce(&mut T) -> sash_core::Result<arrow_array::RecordBatch>,
) -> Result<()> {
    sash_ffi::import::not_null(ptr::<arrow_array::ffi::FFI_ArrowArray>(out_array), "outArray")?;
    sash_ffi::import::not_null(ptr::<arrow_array::ffi::FFI_ArrowSchema>(out_schema), "outSchema")?;
    let stream = handle::<T>(address)?;
    let out = kernel_call(env, || Ok(f(&mut stream.lock().unwrap_or_else(|e| e.into_inner()))?))?;
    export_single(out, spark_types, out_array, out_schema)
}

/// `[has watermark (0/1), watermark, rows_in, rows_late, null_times_dropped,
/// open_windows, state_bytes]`, as `NativeStream.info` reads it.
fn info<'local>(env: &mut Env<'local>, watermark: Option<i64>, s: sash_core::StreamStats) -> Result<JLongArray<'local>> {
    let clamp = |n: u64| n.min(i64::MAX as u64) as i64;
    let values = [
        watermark.is_some() as i64,
        watermark.unwrap_or(i64::MIN),
        clamp(s.rows_in),
        clamp(s.rows_late),
        clamp(s.null_times_dropped),
        clamp(s.open_windows as u64),
        clamp(s.state_bytes as u64),
    ];
    let array = env.new_long_array(values.len())?;
    array.set_region(env, 0, &values)?;
    Ok(array)
}

/// The entry points of one kind of stream: `NativeLib.<kind>New(spec)`,
/// `Push(handle, array, schema, sparkTypes, outArray, outSchema)`,
/// `Advance(handle, watermark, sparkTypes, outArray, outSchema)`,
/// `Finish` and `TakeLate(handle, sparkTypes, outArray, outSchema)`,
/// `Snapshot(handle)`, `Restore(bytes)`, `Info(handle)` (the watermark and
/// the counters, see [`info`]) and `Free(handle)` (0 is ignored).
macro_rules! stream_entries {
    ($core:ty, $new:ident, $push:ident, $advance:ident, $finish:ident, $take_late:ident, $snapshot:ident, $restore:ident, $info:ident, $free:ident) => {
        #[unsafe(no_mangle)]
        pub extern "system" fn $info<'local>(
            mut unowned: EnvUnowned<'local>,
            _class: JClass<'local>,
            address: jlong,
        ) -> JLongArray<'local> {
            unowned
                .with_env(|env| -> Result<JLongArray<'local>> {
                    let stream = handle::<$core>(address)?.lock().unwrap_or_else(|e| e.into_inner());
                    info(env, stream.watermark(), stream.stats())
                })
                .resolve::<crate::error::ThrowSashException>()
        }

        #[unsafe(no_mangle)]
        pub extern "system" fn $new<'local>(mut unowned: EnvUnowned<'local>, _class: JClass<'local>, spec: JString<'local>) -> jlong {
            unowned
                .with_env(|env| -> Result<jlong> {
                    let spec = spec_string(env, &spec)?;
                    Ok(new_handle(<$core>::from_json(&spec)?))
                })
                .resolve::<crate::error::ThrowSashException>()
        }

        #[unsafe(no_mangle)]
        #[allow(clippy::too_many_arguments)]
        pub extern "system" fn $push<'local>(
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
                    with_stream(env, address, spark_types, out_array, out_schema, |s: &mut $core| s.push(&batch))
                })
                .resolve::<crate::error::ThrowSashException>()
        }

        #[unsafe(no_mangle)]
        pub extern "system" fn $advance<'local>(
            mut unowned: EnvUnowned<'local>,
            _class: JClass<'local>,
            address: jlong,
            watermark: jlong,
            spark_types: jboolean,
            out_array: jlong,
            out_schema: jlong,
        ) {
            unowned
                .with_env(|env| -> Result<()> {
                    with_stream(env, address, spark_types, out_array, out_schema, |s: &mut $core| s.advance(watermark))
                })
                .resolve::<crate::error::ThrowSashException>()
        }

        #[unsafe(no_mangle)]
        pub extern "system" fn $finish<'local>(
            mut unowned: EnvUnowned<'local>,
            _class: JClass<'local>,
            address: jlong,
            spark_types: jboolean,
            out_array: jlong,
            out_schema: jlong,
        ) {
            unowned
                .with_env(|env| -> Result<()> { with_stream(env, address, spark_types, out_array, out_schema, |s: &mut $core| s.finish()) })
                .resolve::<crate::error::ThrowSashException>()
        }

        #[unsafe(no_mangle)]
        pub extern "system" fn $take_late<'local>(
            mut unowned: EnvUnowned<'local>,
            _class: JClass<'local>,
            address: jlong,
            spark_types: jboolean,
            out_array: jlong,
            out_schema: jlong,
        ) {
            unowned
                .with_env(|env| -> Result<()> {
                    with_stream(env, address, spark_types, out_array, out_schema, |s: &mut $core| s.take_late())
                })
                .resolve::<crate::error::ThrowSashException>()
        }

        #[unsafe(no_mangle)]
        pub extern "system" fn $snapshot<'local>(
            mut unowned: EnvUnowned<'local>,
            _class: JClass<'local>,
            address: jlong,
        ) -> JByteArray<'local> {
            unowned
                .with_env(|env| -> Result<JByteArray<'local>> {
                    let stream = handle::<$core>(address)?;
                    let bytes = kernel_call(env, || Ok(stream.lock().unwrap_or_else(|e| e.into_inner()).snapshot()?))?;
                    Ok(env.byte_array_from_slice(&bytes)?)
                })
                .resolve::<crate::error::ThrowSashException>()
        }

        #[unsafe(no_mangle)]
        pub extern "system" fn $restore<'local>(
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
                    let stream = kernel_call(env, || Ok(<$core>::restore(&data)?))?;
                    Ok(new_handle(stream))
                })
                .resolve::<crate::error::ThrowSashException>()
        }

        #[unsafe(no_mangle)]
        pub extern "system" fn $free<'local>(_unowned: EnvUnowned<'local>, _class: JClass<'local>, address: jlong) {
            if address != 0 {
                // SAFETY: a handle of this kind from its New/Restore, freed once by close().
                drop(unsafe { Box::from_raw(ptr::<Mutex<$core>>(address)) });
            }
        }
    };
}

stream_entries!(
    WindowStream,
    Java_dev_sash_NativeLib_windowStreamNew,
    Java_dev_sash_NativeLib_windowStreamPush,
    Java_dev_sash_NativeLib_windowStreamAdvance,
    Java_dev_sash_NativeLib_windowStreamFinish,
    Java_dev_sash_NativeLib_windowStreamTakeLate,
    Java_dev_sash_NativeLib_windowStreamSnapshot,
    Java_dev_sash_NativeLib_windowStreamRestore,
    Java_dev_sash_NativeLib_windowStreamInfo,
    Java_dev_sash_NativeLib_windowStreamFree
);

stream_entries!(
    RollingStream,
    Java_dev_sash_NativeLib_rollingStreamNew,
    Java_dev_sash_NativeLib_rollingStreamPush,
    Java_dev_sash_NativeLib_rollingStreamAdvance,
    Java_dev_sash_NativeLib_rollingStreamFinish,
    Java_dev_sash_NativeLib_rollingStreamTakeLate,
    Java_dev_sash_NativeLib_rollingStreamSnapshot,
    Java_dev_sash_NativeLib_rollingStreamRestore,
    Java_dev_sash_NativeLib_rollingStreamInfo,
    Java_dev_sash_NativeLib_rollingStreamFree
);
