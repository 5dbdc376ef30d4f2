//! libsash: the C ABI of sash over the Arrow C Data Interface (issue #5).
//!
//! The conventions (ownership, errors, outputs) are written at the top of
//! `include/sash.h` (from `cbindgen.toml`) and in `bindings-c/README.md`.
//! Every extern function runs its body through [`error::guard`]: a panic
//! becomes `SASH_STATUS_INTERNAL`, an error a status and a thread-local
//! message.
#![allow(clippy::missing_safety_doc)]

pub mod cancel;
pub mod error;
pub mod stream;
/// The checked import of caller-made C Data Interface structs (sash-ffi's,
/// shared with the other bindings).
#[doc(hidden)]
pub use sash_ffi::import;

use arrow_array::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{RecordBatch, RecordBatchIterator, RecordBatchReader};
use arrow_buffer::Buffer;
use arrow_schema::{ArrowError, SchemaRef};
pub use error::SashStatus;
use error::{guard, Error};
use import::{export_batch, import, import_batch, not_null, required, take_array, take_schema, take_stream, StreamInput};
use sash_core::{ParseReader, ParseSpec, Parser};
use sash_ffi::panic::CatchPanics;
use sash_ffi::run::{rolling_json, window_json, ParseStream};
use std::ffi::{c_char, c_void, CStr};
use std::io::Read;

/// Major version of sash (the header's `SASH_VERSION_MAJOR`).
pub const SASH_VERSION_MAJOR: u32 = 0;
/// Minor version of sash.
pub const SASH_VERSION_MINOR: u32 = 1;
/// Patch version of sash.
pub const SASH_VERSION_PATCH: u32 = 0;

/// The version of the library, e.g. "0.1.0": a static NUL-terminated string
/// (compare with the header's `SASH_VERSION_*` macros to detect a mismatch).
#[no_mangle]
pub extern "C" fn sash_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The message of the last failed sash call on the calling thread ("" if the
/// last call succeeded). Never NULL. Valid until the next sash call on the
/// same thread; copy it to keep it.
#[no_mangle]
pub extern "C" fn sash_last_error_message() -> *const c_char {
    error::last_message_ptr()
}

/// Sets how many threads sash's kernels use, for the whole process: every
/// thread calling sash shares them, so many callers at once do not
/// oversubscribe the machine. 0 goes back to the default: the
/// `SASH_MAX_THREADS` environment variable, else the cores the process may
/// use (CPU affinity and cgroup quotas respected). The count never changes a
/// result, only how fast it comes. Thread-safe; calls already running finish
/// on the threads they started with. `SASH_STATUS_INVALID_INPUT` for a count
/// above 1024.
#[no_mangle]
pub extern "C" fn sash_set_threads(threads: usize) -> SashStatus {
    guard(|| Ok(sash_core::set_threads(threads)?))
}

/// How many threads sash's kernels use (see `sash_set_threads`). Thread-safe.
#[no_mangle]
pub extern "C" fn sash_get_threads() -> usize {
    sash_ffi::panic::catch(sash_core::threads).unwrap_or(1)
}

/// The name of a status: "ok", "null_argument", ..., "unknown_column", ...
/// (the conformance corpus' error kind names). A static string, never NULL:
/// "unknown" for a value that is no `sash_status`.
#[no_mangle]
pub extern "C" fn sash_status_name(status: std::ffi::c_int) -> *const c_char {
    error::code_name_ptr(status)
}

fn spec_text<'a>(spec_json: *const c_char) -> Result<&'a str, Error> {
    if spec_json.is_null() {
        return Err(Error::new(SashStatus::NullArgument, "spec_json is NULL"));
    }
    // SAFETY: non-NULL, NUL-terminated per the contract.
    unsafe { CStr::from_ptr(spec_json) }
        .to_str()
        .map_err(|e| Error::new(SashStatus::InvalidSpec, format!("invalid spec: spec_json is not UTF-8: {e}")))
}

/// Takes the single-batch inputs and checks the outputs, in that order, so
/// the inputs are owned by sash whatever fails.
unsafe fn single_inputs(
    array: *mut FFI_ArrowArray,
    schema: *mut FFI_ArrowSchema,
    out_array: *mut FFI_ArrowArray,
    out_schema: *mut FFI_ArrowSchema,
) -> Result<(FFI_ArrowArray, FFI_ArrowSchema), Error> {
    // SAFETY: per the contract of the calling function.
    let (array, schema) = unsafe { (take_array(array), take_schema(schema)) };
    let array = required(array, "array")?;
    let schema = required(schema, "schema")?;
    not_null(out_array, "out_array")?;
    not_null(out_schema, "out_schema")?;
    Ok((array, schema))
}

/// Windowed aggregation of one record batch.
///
/// `array`/`schema`: the input record batch, a struct array (format "+s")
/// whose fields are the columns. Taken by sash (see the ownership rule).
/// `spec_json`: the window spec, NUL-terminated UTF-8 JSON (docs/semantics.md).
/// On success, `out_array`/`out_schema` hold the result (a struct array with
/// its schema) and the caller releases them; on error they are not written.
#[no_mangle]
pub unsafe extern "C" fn sash_window_agg(
    array: *mut FFI_ArrowArray,
    schema: *mut FFI_ArrowSchema,
    spec_json: *const c_char,
    out_array: *mut FFI_ArrowArray,
    out_schema: *mut FFI_ArrowSchema,
) -> SashStatus {
    guard(|| {
        // SAFETY: the caller's pointers, per the contract above.
        let (array, schema) = unsafe { single_inputs(array, schema, out_array, out_schema) }?;
        let spec = spec_text(spec_json)?;
        let (schema, batch) = import_batch(array, &schema)?;
        let out = window_json(&schema, &[batch], spec)?;
        // SAFETY: checked non-NULL above.
        unsafe { export_batch(out, out_array, out_schema) }
    })
}

/// Rolling aggregation of one record batch: one output row per input row,
/// in one output struct array. Arguments as for `sash_window_agg`.
#[no_mangle]
pub unsafe extern "C" fn sash_rolling(
    array: *mut FFI_ArrowArray,
    schema: *mut FFI_ArrowSchema,
    spec_json: *const c_char,
    out_array: *mut FFI_ArrowArray,
    out_schema: *mut FFI_ArrowSchema,
) -> SashStatus {
    guard(|| {
        // SAFETY: the caller's pointers, per the contract above.
        let (array, schema) = unsafe { single_inputs(array, schema, out_array, out_schema) }?;
        let spec = spec_text(spec_json)?;
        let (schema, batch) = import_batch(array, &schema)?;
        let (out_schema_ref, parts) = rolling_json(&schema, &[batch], spec)?;
        let out = arrow_select::concat::concat_batches(&out_schema_ref, &parts)?;
        // SAFETY: checked non-NULL above.
        unsafe { export_batch(out, out_array, out_schema) }
    })
}

/// Reads every batch of a stream, each checked like a single batch; a
/// failing stream becomes `SASH_STATUS_INVALID_ARRAY` with the producer's message.
fn read_stream(stream: FFI_ArrowArrayStream) -> Result<(SchemaRef, Vec<RecordBatch>), Error> {
    StreamInput::open(stream)?.read_all()
}

unsafe fn stream_inputs(input: *mut FFI_ArrowArrayStream, out: *mut FFI_ArrowArrayStream) -> Result<FFI_ArrowArrayStream, Error> {
    // SAFETY: per the contract of the calling function.
    let input = unsafe { take_stream(input) };
    let input = required(input, "input")?;
    not_null(out, "out")?;
    Ok(input)
}

/// # Safety
/// `out` is non-NULL and writable.
unsafe fn export_stream(reader: Box<dyn RecordBatchReader + Send>, out: *mut FFI_ArrowArrayStream) {
    // SAFETY: per the contract.
    unsafe { std::ptr::write(out, FFI_ArrowArrayStream::new(Box::new(CatchPanics(Box::new(BoundCancel(reader)))))) }
}

/// A reader that runs under the calling thread's bound cancel token (see
/// `cancel`), wherever the consumer pulls it from.
struct BoundCancel(Box<dyn RecordBatchReader + Send>);

impl Iterator for BoundCancel {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        cancel::with_bound(|| self.0.next())
    }
}

impl RecordBatchReader for BoundCancel {
    fn schema(&self) -> SchemaRef {
        self.0.schema()
    }
}

/// Windowed aggregation of a whole stream of record batches.
///
/// `input`: a stream of record batches, taken by sash. It is read to its end
/// before this returns (windows need every row; the batches are not copied).
/// On success `out` is a stream of the result batches (the caller releases
/// it); on error it is not written.
#[no_mangle]
pub unsafe extern "C" fn sash_window_agg_stream(
    input: *mut FFI_ArrowArrayStream,
    spec_json: *const c_char,
    out: *mut FFI_ArrowArrayStream,
) -> SashStatus {
    guard(|| {
        // SAFETY: the caller's pointers, per the contract above.
        let input = unsafe { stream_inputs(input, out) }?;
        let spec = spec_text(spec_json)?;
        let (schema, batches) = read_stream(input)?;
        let result = window_json(&schema, &batches, spec)?;
        let out_schema = result.schema();
        let reader = RecordBatchIterator::new(vec![Ok(result)], out_schema);
        // SAFETY: checked non-NULL above.
        unsafe { export_stream(Box::new(reader), out) };
        Ok(())
    })
}

/// Rolling aggregation of a whole stream of record batches; `out` yields the
/// output rows in input order, in several batches. Arguments as for
/// `sash_window_agg_stream`.
#[no_mangle]
pub unsafe extern "C" fn sash_rolling_stream(
    input: *mut FFI_ArrowArrayStream,
    spec_json: *const c_char,
    out: *mut FFI_ArrowArrayStream,
) -> SashStatus {
    guard(|| {
        // SAFETY: the caller's pointers, per the contract above.
        let input = unsafe { stream_inputs(input, out) }?;
        let spec = spec_text(spec_json)?;
        let (schema, batches) = read_stream(input)?;
        let (out_schema, parts) = rolling_json(&schema, &batches, spec)?;
        let reader = RecordBatchIterator::new(parts.into_iter().map(Ok), out_schema);
        // SAFETY: checked non-NULL above.
        unsafe { export_stream(Box::new(reader), out) };
        Ok(())
    })
}

fn parser(spec: &str) -> Result<Parser, Error> {
    Ok(Parser::new(&ParseSpec::from_json(spec)?)?)
}

/// Parses each element of a string array as one log line (docs/parsing.md).
///
/// `array`/`schema`: a Utf8, LargeUtf8, Utf8View, Binary or LargeBinary array
/// (not a record batch), taken by sash. `spec_json`: the parse spec.
/// On success `out_array`/`out_schema` hold a struct array: the format's
/// columns, then `_error` (null where the line parsed). String columns point
/// into the input's buffers, which stay alive until the output is released.
#[no_mangle]
pub unsafe extern "C" fn sash_parse(
    array: *mut FFI_ArrowArray,
    schema: *mut FFI_ArrowSchema,
    spec_json: *const c_char,
    out_array: *mut FFI_ArrowArray,
    out_schema: *mut FFI_ArrowSchema,
) -> SashStatus {
    guard(|| {
        // SAFETY: the caller's pointers, per the contract above.
        let (array, schema) = unsafe { single_inputs(array, schema, out_array, out_schema) }?;
        let spec = spec_text(spec_json)?;
        let (lines, _) = import(array, &schema)?;
        let out = parser(spec)?.parse_lines(lines.as_ref())?;
        // SAFETY: checked non-NULL above.
        unsafe { export_batch(out.batch, out_array, out_schema) }
    })
}

/// Parses raw log bytes, split into lines at LF, CRLF or a lone CR.
///
/// `data`/`len`: the bytes (not NUL-terminated; `data` may be NULL when `len`
/// is 0). sash copies them once; the caller keeps ownership of `data`.
/// Gzip-compressed bytes (a `.gz` log, told by its first two bytes) are
/// decompressed first; a corrupt or truncated gzip stream is
/// `SASH_STATUS_INVALID_INPUT`. Output as for `sash_parse`.
#[no_mangle]
pub unsafe extern "C" fn sash_parse_bytes(
    data: *const u8,
    len: usize,
    spec_json: *const c_char,
    out_array: *mut FFI_ArrowArray,
    out_schema: *mut FFI_ArrowSchema,
) -> SashStatus {
    guard(|| {
        not_null(out_array, "out_array")?;
        not_null(out_schema, "out_schema")?;
        if data.is_null() && len > 0 {
            return Err(Error::new(SashStatus::NullArgument, "data is NULL but len is not 0"));
        }
        let spec = spec_text(spec_json)?;
        let bytes = if len == 0 {
            Buffer::from_vec(Vec::<u8>::new())
        } else {
            // SAFETY: `len` readable bytes at `data`, per the contract.
            Buffer::from(unsafe { std::slice::from_raw_parts(data, len) })
        };
        let out = parser(spec)?.parse_bytes(&bytes)?;
        // SAFETY: checked non-NULL above.
        unsafe { export_batch(out.batch, out_array, out_schema) }
    })
}

/// Parses a stream of lines in bounded memory: each input batch (a record
/// batch of exactly one column, of a type `sash_parse` takes) becomes one
/// output batch, parsed when the caller pulls it from `out`. `input` is taken
/// by sash; errors met while pulling (`on_error: "raise"`, a failing input)
/// come out of `out`'s `get_next`/`get_last_error`. On error of this call,
/// `out` is not written.
#[no_mangle]
pub unsafe extern "C" fn sash_parse_stream(
    input: *mut FFI_ArrowArrayStream,
    spec_json: *const c_char,
    out: *mut FFI_ArrowArrayStream,
) -> SashStatus {
    guard(|| {
        // SAFETY: the caller's pointers, per the contract above.
        let input = unsafe { stream_inputs(input, out) }?;
        let spec = spec_text(spec_json)?;
        let stream = ParseStream::new(StreamInput::open(input)?, parser(spec)?)?;
        // SAFETY: checked non-NULL above.
        unsafe { export_stream(Box::new(stream), out) };
        Ok(())
    })
}

/// A source of bytes for `sash_parse_read`: fills `buf` with up to `len`
/// bytes and returns how many (0 at the end of the input), or a negative
/// value on error.
pub type SashReadCallback = Option<unsafe extern "C" fn(user_data: *mut c_void, buf: *mut u8, len: usize) -> isize>;

/// The caller's read callback as a `std::io::Read`.
struct CallbackReader {
    read: unsafe extern "C" fn(*mut c_void, *mut u8, usize) -> isize,
    user_data: *mut c_void,
}

// SAFETY: the header says the callback may be called from whichever thread
// pulls the output stream; the caller guarantees `user_data` allows that.
unsafe impl Send for CallbackReader {}

impl Read for CallbackReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // SAFETY: `buf` is writable for its length; the callback's contract.
        let n = unsafe { (self.read)(self.user_data, buf.as_mut_ptr(), buf.len()) };
        if n < 0 {
            Err(std::io::Error::other(format!("the read callback returned {n}")))
        } else if n as usize > buf.len() {
            Err(std::io::Error::other(format!("the read callback returned {n}, more than the {} bytes asked", buf.len())))
        } else {
            Ok(n as usize)
        }
    }
}

/// The largest `chunk_bytes` of `sash_parse_read`: a chunk is one buffer.
const MAX_CHUNK_BYTES: usize = 1 << 30;

/// The lazy output stream of `sash_parse_read`.
struct ReadStream {
    reader: ParseReader<CallbackReader>,
    schema: SchemaRef,
}

impl Iterator for ReadStream {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.reader.next()?.map(|o| o.batch).map_err(|e| ArrowError::ExternalError(Box::new(e))))
    }
}

impl RecordBatchReader for ReadStream {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

/// Parses raw log bytes pulled from `read` in chunks of about `chunk_bytes`
/// (0: 16 MiB; at most 1 GiB, more is `SASH_STATUS_INVALID_SPEC`), in bounded memory: each chunk, cut after its last complete
/// line, becomes one batch of `out`, read and parsed when the caller pulls
/// it. `read` is called with `user_data`, from the thread that pulls `out`,
/// until it returns 0 (end) or a negative value (an error: the complete
/// lines read before it come as one last batch, then `out`'s `get_next`
/// fails); `user_data` must stay valid until `out` is released. Gzip input
/// is decompressed as it is read (see `sash_parse_bytes`). Output columns as
/// for `sash_parse`. On error of this call, `out` is not written and `read`
/// was never called.
#[no_mangle]
pub unsafe extern "C" fn sash_parse_read(
    read: SashReadCallback,
    user_data: *mut c_void,
    spec_json: *const c_char,
    chunk_bytes: usize,
    out: *mut FFI_ArrowArrayStream,
) -> SashStatus {
    guard(|| {
        not_null(out, "out")?;
        let read = read.ok_or_else(|| Error::new(SashStatus::NullArgument, "read is NULL"))?;
        let spec = ParseSpec::from_json(spec_text(spec_json)?)?;
        if chunk_bytes > MAX_CHUNK_BYTES {
            return Err(Error::new(
                SashStatus::InvalidSpec,
                format!("invalid spec: chunk_bytes is {chunk_bytes}, more than the {MAX_CHUNK_BYTES} bytes (1 GiB) a chunk may have"),
            ));
        }
        let mut reader = ParseReader::new(CallbackReader { read, user_data }, &spec)?;
        if chunk_bytes > 0 {
            reader = reader.with_chunk_bytes(chunk_bytes);
        }
        let schema = reader.schema();
        // SAFETY: checked non-NULL above.
        unsafe { export_stream(Box::new(ReadStream { reader, schema }), out) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_constants_match_the_crate() {
        assert_eq!(env!("CARGO_PKG_VERSION_MAJOR").parse::<u32>().unwrap(), super::SASH_VERSION_MAJOR);
        assert_eq!(env!("CARGO_PKG_VERSION_MINOR").parse::<u32>().unwrap(), super::SASH_VERSION_MINOR);
        assert_eq!(env!("CARGO_PKG_VERSION_PATCH").parse::<u32>().unwrap(), super::SASH_VERSION_PATCH);
    }
}
