//! libsash_jvm: the JNI entry points behind sash's Java API (`dev.sash.Sash`)
//! and its Spark integration (`dev.sash.spark.SashSpark`).
//!
//! Data crosses by the Arrow C Data Interface: Java allocates the
//! `ArrowArray`/`ArrowSchema` (or `ArrowArrayStream`) structs with
//! arrow-c-data, exports its vectors into them and passes their addresses;
//! sash takes the inputs (the C binding's ownership rule: taken by sash on
//! every path, released once), checks them like the C ABI does, runs the core
//! and writes the result into the output structs Java allocated. No buffer is
//! copied in either direction, except columns Arrow Java or Spark cannot read
//! as they are ([`jvm_types`]).
//!
//! Every entry point runs under [`error::ThrowSashException`]: errors and
//! panics become Java exceptions, never a crash of the JVM. Kernel work (the
//! calls, and each pull of a result stream) runs under [`kernel_call`]:
//! `Thread.interrupt()` cancels it ([`interrupt`]) and a panic in it reaches
//! Java as the exception's message, not as a report on stderr. The Java side
//! (`dev.sash.NativeLib`) documents each method.

mod error;
pub mod interrupt;
pub mod jvm_types;
mod stream;

use arrow_array::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, SchemaRef};
use error::{JvmError, ThrowSashException};
use jni::objects::{JClass, JObject, JObjectArray, JString, JThrowable};
use jni::sys::{jboolean, jlong};
use jni::{Env, EnvUnowned, JavaVM};
use sash_core::{ParseReader, ParseSpec, Parser, WindowSpec};
use sash_ffi::import::{
    export_batch, import, import_batch, import_schema, not_null, required, take_array, take_schema, take_stream, StreamInput,
};
use sash_ffi::run::{rolling_json, window_json};
use sash_ffi::status::{Error, SashStatus};

pub use sash_core::VERSION;

type Result<T> = std::result::Result<T, JvmError>;

fn ptr<T>(address: jlong) -> *mut T {
    address as usize as *mut T
}

/// Runs the kernel work of an entry point: interrupting the calling Java
/// thread cancels it, and a panic in it is caught without the default hook's
/// report on stderr, then resumed (without the hook) so that the entry point's
/// error policy turns it into a `SashException` of kind "internal".
fn kernel_call<T>(env: &Env<'_>, work: impl FnOnce() -> Result<T>) -> Result<T> {
    let vm = env.get_java_vm()?;
    match sash_ffi::panic::catch(|| interrupt::interruptible(vm, work)) {
        Ok(result) => result,
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

fn spec_string(env: &Env<'_>, spec: &JString<'_>) -> Result<String> {
    if spec.is_null() {
        return Err(Error::new(SashStatus::NullArgument, "spec is null").into());
    }
    Ok(spec.try_to_string(env)?)
}

/// Takes a single-batch input (array and schema) and checks the output
/// addresses, in that order, so the input is owned by sash whatever fails.
fn take_single(array: jlong, schema: jlong, out_array: jlong, out_schema: jlong) -> Result<(FFI_ArrowArray, FFI_ArrowSchema)> {
    // SAFETY: Java passes the addresses of live structs it allocated (or 0).
    let (array, schema) = unsafe { (take_array(ptr(array)), take_schema(ptr(schema))) };
    let array = required(array, "array")?;
    let schema = required(schema, "schema")?;
    not_null(ptr::<FFI_ArrowArray>(out_array), "outArray")?;
    not_null(ptr::<FFI_ArrowSchema>(out_schema), "outSchema")?;
    Ok((array, schema))
}

/// The body of every single-batch entry point: take the input, read the spec,
/// run `op` on the input array and its schema, export the result.
#[allow(clippy::too_many_arguments)]
fn single_batch(
    env: &Env<'_>,
    array: jlong,
    schema: jlong,
    spec: &JString<'_>,
    spark_types: bool,
    out_array: jlong,
    out_schema: jlong,
    op: impl FnOnce(FFI_ArrowArray, &FFI_ArrowSchema, &str) -> Result<RecordBatch>,
) -> Result<()> {
    let (array, schema) = take_single(array, schema, out_array, out_schema)?;
    let spec = spec_string(env, spec)?;
    let out = op(array, &schema, &spec)?;
    export_single(out, spark_types, out_array, out_schema)
}

fn export_single(batch: RecordBatch, spark_types: bool, out_array: jlong, out_schema: jlong) -> Result<()> {
    let batch = jvm_types::for_jvm(batch, spark_types)?;
    // SAFETY: checked non-null by take_single; Java allocated them.
    unsafe { export_batch(batch, ptr(out_array), ptr(out_schema)) }?;
    Ok(())
}

fn take_stream_input(input: jlong, out: jlong) -> Result<StreamInput> {
    // SAFETY: Java passes the address of a live struct it allocated (or 0).
    let input = required(unsafe { take_stream(ptr(input)) }, "input")?;
    not_null(ptr::<FFI_ArrowArrayStream>(out), "out")?;
    Ok(StreamInput::open(input)?)
}

/// A result stream whose batches pass through [`jvm_types::for_jvm`].
///
/// Java pulls it through Arrow Java's own JNI (`ArrowArrayStream.getNext`),
/// so each pull runs on a Java thread, attached: interrupting that thread
/// cancels the pull, as it cancels a call ([`interrupt`]); the stream goes on
/// where it stopped when it is pulled again. The error of a failed pull is
/// also kept for the pulling thread ([`error::take_pull_error`]), so that Java
/// can give the `IOException` Arrow Java throws its typed cause.
struct JvmStream<I> {
    inner: I,
    schema: SchemaRef,
    spark_types: bool,
    vm: JavaVM,
}

impl<I: Iterator<Item = std::result::Result<RecordBatch, ArrowError>>> Iterator for JvmStream<I> {
    type Item = std::result::Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        error::set_pull_error(None);
        let spark_types = self.spark_types;
        let inner = &mut self.inner;
        let item = interrupt::interruptible(self.vm.clone(), || Some(inner.next()?.and_then(|b| jvm_types::for_jvm(b, spark_types))));
        if let Some(Err(e)) = &item {
            error::set_pull_error(Some(error::pull_error(e)));
        }
        item
    }
}

impl<I: Iterator<Item = std::result::Result<RecordBatch, ArrowError>>> RecordBatchReader for JvmStream<I> {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

fn export_stream<I>(env: &Env<'_>, inner: I, schema: SchemaRef, spark_types: bool, out: jlong) -> Result<()>
where
    I: Iterator<Item = std::result::Result<RecordBatch, ArrowError>> + Send + 'static,
{
    let schema = jvm_types::schema_for_jvm(&schema, spark_types);
    let reader = JvmStream { inner, schema, spark_types, vm: env.get_java_vm()? };
    // Panics while Java pulls (inside arrow-rs's `extern "C"` callbacks, where
    // they would abort the JVM) become errors of the stream.
    let reader = sash_ffi::panic::CatchPanics(Box::new(reader));
    // SAFETY: `out` was checked non-null; Java allocated it.
    unsafe { std::ptr::write(ptr::<FFI_ArrowArrayStream>(out), FFI_ArrowArrayStream::new(Box::new(reader))) };
    Ok(())
}

/// `NativeLib.version()`: the crate version, e.g. "0.1.0".
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_sash_NativeLib_version<'local>(mut unowned: EnvUnowned<'local>, _class: JClass<'local>) -> JString<'local> {
    unowned.with_env(|env| -> Result<JString<'local>> { Ok(JString::from_str(env, VERSION)?) }).resolve::<ThrowSashException>()
}

/// `NativeLib.setThreads(threads)`: 0 is the default.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_sash_NativeLib_setThreads<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    threads: jni::sys::jint,
) {
    unowned
        .with_env(|_env| -> Result<()> { Ok(sash_core::set_threads(sash_core::pool::requested_threads(threads.into())?)?) })
        .resolve::<ThrowSashException>()
}

/// `NativeLib.threads()`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_sash_NativeLib_threads<'local>(mut unowned: EnvUnowned<'local>, _class: JClass<'local>) -> jni::sys::jint {
    unowned.with_env(|_env| -> Result<jni::sys::jint> { Ok(sash_core::threads() as jni::sys::jint) }).resolve::<ThrowSashException>()
}

/// `NativeLib.windowAgg(array, schema, spec, sparkTypes, outArray, outSchema)`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_sash_NativeLib_windowAgg<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    array: jlong,
    schema: jlong,
    spec: JString<'local>,
    spark_types: jboolean,
    out_array: jlong,
    out_schema: jlong,
) {
    unowned
        .with_env(|env| -> Result<()> {
            let env: &Env = env;
            kernel_call(env, || {
                single_batch(env, array, schema, &spec, spark_types, out_array, out_schema, |array, schema, spec| {
                    let (schema, batch) = import_batch(array, schema)?;
                    Ok(window_json(&schema, &[batch], spec)?)
                })
            })
        })
        .resolve::<ThrowSashException>()
}

/// `NativeLib.rolling(array, schema, spec, sparkTypes, outArray, outSchema)`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_sash_NativeLib_rolling<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    array: jlong,
    schema: jlong,
    spec: JString<'local>,
    spark_types: jboolean,
    out_array: jlong,
    out_schema: jlong,
) {
    unowned
        .with_env(|env| -> Result<()> {
            let env: &Env = env;
            kernel_call(env, || {
                single_batch(env, array, schema, &spec, spark_types, out_array, out_schema, |array, schema, spec| {
                    let (schema, batch) = import_batch(array, schema)?;
                    let (out_schema, parts) = rolling_json(&schema, &[batch], spec)?;
                    Ok(arrow_select::concat::concat_batches(&out_schema, &parts)?)
                })
            })
        })
        .resolve::<ThrowSashException>()
}

/// `NativeLib.parse(array, schema, spec, sparkTypes, outArray, outSchema)`:
/// `array` is one string array (Utf8, LargeUtf8, Utf8View, Binary).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_sash_NativeLib_parse<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    array: jlong,
    schema: jlong,
    spec: JString<'local>,
    spark_types: jboolean,
    out_array: jlong,
    out_schema: jlong,
) {
    unowned
        .with_env(|env| -> Result<()> {
            let env: &Env = env;
            kernel_call(env, || {
                single_batch(env, array, schema, &spec, spark_types, out_array, out_schema, |array, schema, spec| {
                    let (lines, _) = import(array, schema)?;
                    Ok(Parser::new(&ParseSpec::from_json(spec)?)?.parse_lines(lines.as_ref())?.batch)
                })
            })
        })
        .resolve::<ThrowSashException>()
}

/// `NativeLib.windowAggStream(input, spec, sparkTypes, out)`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_sash_NativeLib_windowAggStream<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    input: jlong,
    spec: JString<'local>,
    spark_types: jboolean,
    out: jlong,
) {
    unowned
        .with_env(|env| -> Result<()> {
            let env: &Env = env;
            kernel_call(env, || {
                let input = take_stream_input(input, out)?;
                let spec = spec_string(env, &spec)?;
                let (schema, batches) = input.read_all()?;
                let result = window_json(&schema, &batches, &spec)?;
                let out_schema = result.schema();
                export_stream(env, vec![Ok(result)].into_iter(), out_schema, spark_types, out)
            })
        })
        .resolve::<ThrowSashException>()
}

/// `NativeLib.rollingStream(input, spec, sparkTypes, out)`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_sash_NativeLib_rollingStream<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    input: jlong,
    spec: JString<'local>,
    spark_types: jboolean,
    out: jlong,
) {
    unowned
        .with_env(|env| -> Result<()> {
            let env: &Env = env;
            kernel_call(env, || {
                let input = take_stream_input(input, out)?;
                let spec = spec_string(env, &spec)?;
                let (schema, batches) = input.read_all()?;
                let (out_schema, parts) = rolling_json(&schema, &batches, &spec)?;
                export_stream(env, parts.into_iter().map(Ok), out_schema, spark_types, out)
            })
        })
        .resolve::<ThrowSashException>()
}

/// `NativeLib.parseStream(input, spec, sparkTypes, out)`: `input` yields
/// record batches of one string column; each becomes one output batch when
/// Java pulls it.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_sash_NativeLib_parseStream<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    input: jlong,
    spec: JString<'local>,
    spark_types: jboolean,
    out: jlong,
) {
    unowned
        .with_env(|env| -> Result<()> {
            let env: &Env = env;
            kernel_call(env, || {
                let input = take_stream_input(input, out)?;
                let spec = spec_string(env, &spec)?;
                // One parsed batch per input batch, parsed as Java pulls it; a
                // pull cancelled by an interrupt keeps its batch for the next.
                let stream = sash_ffi::run::ParseStream::new(input, Parser::new(&ParseSpec::from_json(&spec)?)?)?;
                let schema = arrow_array::RecordBatchReader::schema(&stream);
                export_stream(env, stream, schema, spark_types, out)
            })
        })
        .resolve::<ThrowSashException>()
}

/// `NativeLib.readLog(path, spec, chunkBytes, sparkTypes, out)`: the file
/// read and parsed in chunks of about `chunkBytes` (0: the core's default)
/// as Java pulls batches from `out`, so a file larger than memory streams.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_sash_NativeLib_readLog<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    path: JString<'local>,
    spec: JString<'local>,
    chunk_bytes: jlong,
    spark_types: jboolean,
    out: jlong,
) {
    unowned
        .with_env(|env| -> Result<()> {
            let env: &Env = env;
            kernel_call(env, || {
                not_null(ptr::<FFI_ArrowArrayStream>(out), "out")?;
                if path.is_null() {
                    return Err(Error::new(SashStatus::NullArgument, "path is null").into());
                }
                let path = path.try_to_string(env)?;
                let spec = ParseSpec::from_json(&spec_string(env, &spec)?)?;
                let file = std::fs::File::open(&path)
                    .map_err(|e| Error::new(SashStatus::InvalidInput, format!("invalid input: cannot open {path}: {e}")))?;
                let mut reader = ParseReader::new(std::io::BufReader::with_capacity(1 << 20, file), &spec)?;
                if chunk_bytes > 0 {
                    reader = reader.with_chunk_bytes(chunk_bytes as usize);
                }
                let schema = reader.schema();
                let batches = reader.map(|r| r.map(|o| o.batch).map_err(|e| ArrowError::ExternalError(Box::new(e))));
                export_stream(env, batches, schema, spark_types, out)
            })
        })
        .resolve::<ThrowSashException>()
}

/// `NativeLib.benchWindowAggNanos(array, schema, spec)`: for the benchmark
/// that measures what the JNI path adds. Takes the batch like `windowAgg`,
/// then times only the core's window aggregation and returns the
/// nanoseconds; the result is dropped, nothing is exported.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_sash_NativeLib_benchWindowAggNanos<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    array: jlong,
    schema: jlong,
    spec: JString<'local>,
) -> jlong {
    unowned
        .with_env(|env| -> Result<jlong> {
            // SAFETY: Java passes the addresses of live structs it allocated (or 0).
            let (array, schema) = unsafe { (take_array(ptr(array)), take_schema(ptr(schema))) };
            let (array, schema) = (required(array, "array")?, required(schema, "schema")?);
            let spec = WindowSpec::from_json(&spec_string(env, &spec)?)?;
            let (schema, batch) = import_batch(array, &schema)?;
            let start = std::time::Instant::now();
            let out = sash_core::window_agg(&schema, &[batch], &spec)?;
            let nanos = start.elapsed().as_nanos() as jlong;
            drop(out);
            Ok(nanos)
        })
        .resolve::<ThrowSashException>()
}

/// `NativeLib.windowAggPartial(array, schema, spec, firstPosition, sparkTypes, outArray, outSchema)`:
/// the first step of a window aggregation in parts
/// (`sash_core::partial::window_agg_partial`): the state of every (keys,
/// window) of this batch, whose rows start at `firstPosition` of the whole input.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_dev_sash_NativeLib_windowAggPartial<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    array: jlong,
    schema: jlong,
    spec: JString<'local>,
    first_position: jlong,
    spark_types: jboolean,
    out_array: jlong,
    out_schema: jlong,
) {
    unowned
        .with_env(|env| -> Result<()> {
            let env: &Env = env;
            kernel_call(env, || {
                single_batch(env, array, schema, &spec, spark_types, out_array, out_schema, |array, schema, spec| {
                    let (schema, batch) = import_batch(array, schema)?;
                    let spec = WindowSpec::from_json(spec)?;
                    let first = u64::try_from(first_position).map_err(|_| {
                        sash_core::SashError::InvalidSpec(format!("firstPosition must not be negative, got {first_position}"))
                    })?;
                    Ok(sash_core::partial::window_agg_partial(&schema, &[batch], &spec, first)?)
                })
            })
        })
        .resolve::<ThrowSashException>()
}

/// `NativeLib.windowAggMerge(inputSchema, array, schema, spec, sparkTypes, outArray, outSchema)`:
/// the second step (`sash_core::partial::window_agg_merge`): merges a batch
/// of partial states of an input of schema `inputSchema` (rows of any
/// number of parts, in any order) into the result of one call over all
/// their rows.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_dev_sash_NativeLib_windowAggMerge<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    input_schema: jlong,
    array: jlong,
    schema: jlong,
    spec: JString<'local>,
    spark_types: jboolean,
    out_array: jlong,
    out_schema: jlong,
) {
    unowned
        .with_env(|env| -> Result<()> {
            let env: &Env = env;
            // SAFETY: Java passes the address of a live struct it allocated (or 0).
            let input_schema = required(unsafe { take_schema(ptr(input_schema)) }, "inputSchema");
            kernel_call(env, || {
                single_batch(env, array, schema, &spec, spark_types, out_array, out_schema, |array, schema, spec| {
                    let input_schema = import_schema(&input_schema?)?;
                    let (_, partial) = import_batch(array, schema)?;
                    let spec = WindowSpec::from_json(spec)?;
                    Ok(sash_core::partial::window_agg_merge(&input_schema, &spec, &[partial])?)
                })
            })
        })
        .resolve::<ThrowSashException>()
}

/// `NativeLib.panicForTesting(message)`: panics inside an entry point, so
/// that a test can check a panic becomes a `SashException` of kind
/// "internal" and the JVM goes on.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_sash_NativeLib_panicForTesting<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    message: JString<'local>,
) {
    unowned
        .with_env(|env| -> Result<()> {
            let env: &Env = env;
            let message = spec_string(env, &message)?;
            kernel_call(env, || panic!("{message}"))
        })
        .resolve::<ThrowSashException>()
}

/// `NativeLib.errorKinds()`: every kind name an exception of the library can
/// carry ([`error::kind_names`]), in status-code order.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_sash_NativeLib_errorKinds<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
) -> JObjectArray<'local, JString<'local>> {
    unowned
        .with_env(|env| -> Result<JObjectArray<'local, JString<'local>>> {
            let names = error::kind_names();
            let array = JObjectArray::<JString>::new(env, names.len(), JString::null())?;
            for (i, name) in names.iter().enumerate() {
                let name = JString::from_str(env, name)?;
                array.set_element(env, i, &name)?;
            }
            Ok(array)
        })
        .resolve::<ThrowSashException>()
}

/// `NativeLib.exceptionFor(kind, message)`: the exception the library throws
/// for an error of `kind` (a name of `errorKinds()`), not thrown; null for a
/// name that is no kind. The Java tests check every kind against the
/// documented classes with it.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_sash_NativeLib_exceptionFor<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
    kind: JString<'local>,
    message: JString<'local>,
) -> JThrowable<'local> {
    unowned
        .with_env(|env| -> Result<JThrowable<'local>> {
            let kind = spec_string(env, &kind)?;
            let message = if message.is_null() { String::new() } else { message.try_to_string(env)? };
            match error::status_named(&kind) {
                Some(status) => Ok(error::exception(env, status, &message)?),
                None => Ok(JThrowable::null()),
            }
        })
        .resolve::<ThrowSashException>()
}

/// `NativeLib.takePullError()`: the exception of the last failed pull of a
/// result stream on this thread (the typed cause of the `IOException` Arrow
/// Java threw for it), or null; taking it forgets it.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_sash_NativeLib_takePullError<'local>(
    mut unowned: EnvUnowned<'local>,
    _class: JClass<'local>,
) -> JObject<'local> {
    unowned
        .with_env(|env| -> Result<JObject<'local>> {
            match error::take_pull_error() {
                Some((status, message)) => Ok(error::exception(env, status, &message)?.into()),
                None => Ok(JObject::null()),
            }
        })
        .resolve::<ThrowSashException>()
}
