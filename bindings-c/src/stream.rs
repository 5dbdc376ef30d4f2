//! `sash_window_stream`: windows over input that never stops arriving
//! (docs/semantics.md, "Streaming"), as an opaque handle.

use crate::error::{guard, Error, SashStatus};
use crate::import::{export_batch, import_batch, not_null};
use crate::{single_inputs, spec_text};
use arrow_array::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::RecordBatch;
use sash_core::WindowStream;
use std::ffi::c_char;

/// A window stream (opaque): tumbling or hopping windows over pushes of
/// rows, each emitted once the watermark passes it. Create it with
/// `sash_window_stream_new` (or `_restore`), free it with
/// `sash_window_stream_free`. Not thread-safe: use a stream from one thread
/// at a time (different streams are independent). A failed call leaves the
/// stream as it was.
#[derive(Debug)]
pub struct SashWindowStream {
    inner: WindowStream,
}

fn stream_mut<'a>(stream: *mut SashWindowStream) -> Result<&'a mut WindowStream, Error> {
    // SAFETY: non-NULL (checked) and from sash_window_stream_new/_restore, per the contract.
    Ok(unsafe { &mut (*not_null(stream, "stream")?).inner })
}

/// Writes a result batch into the caller's output structs.
fn emit(out: RecordBatch, out_array: *mut FFI_ArrowArray, out_schema: *mut FFI_ArrowSchema) -> Result<(), Error> {
    not_null(out_array, "out_array")?;
    not_null(out_schema, "out_schema")?;
    // SAFETY: checked non-NULL; the caller's writable structs.
    unsafe { export_batch(out, out_array, out_schema) }
}

/// A new stream for `spec_json`: a window spec as `sash_window_agg` takes
/// it, with an optional `"lateness"` (a duration, default 0). On success
/// `*out` is the stream.
///
/// # Safety
/// `spec_json` is NULL or a NUL-terminated string; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sash_window_stream_new(spec_json: *const c_char, out: *mut *mut SashWindowStream) -> SashStatus {
    guard(|| {
        not_null(out, "out")?;
        let inner = WindowStream::from_json(spec_text(spec_json)?)?;
        // SAFETY: checked non-NULL; the caller's writable pointer.
        unsafe { *out = Box::into_raw(Box::new(SashWindowStream { inner })) };
        Ok(())
    })
}

/// Pushes one record batch (taken, as every input struct is) and writes the
/// windows it closed (possibly none) into `out_array`/`out_schema`.
///
/// # Safety
/// `stream` is a live stream; the structs as for `sash_window_agg`.
#[no_mangle]
pub unsafe extern "C" fn sash_window_stream_push(
    stream: *mut SashWindowStream,
    array: *mut FFI_ArrowArray,
    schema: *mut FFI_ArrowSchema,
    out_array: *mut FFI_ArrowArray,
    out_schema: *mut FFI_ArrowSchema,
) -> SashStatus {
    guard(|| {
        // SAFETY: the caller's pointers, per the contract above.
        let (array, schema) = unsafe { single_inputs(array, schema, out_array, out_schema) }?;
        let (_, batch) = import_batch(array, &schema)?;
        let out = stream_mut(stream)?.push(&batch)?;
        emit(out, out_array, out_schema)
    })
}

/// Moves the watermark to `watermark` (ticks of the time column) if later,
/// and writes the windows that closed.
///
/// # Safety
/// `stream` is a live stream; the outputs are writable.
#[no_mangle]
pub unsafe extern "C" fn sash_window_stream_advance(
    stream: *mut SashWindowStream,
    watermark: i64,
    out_array: *mut FFI_ArrowArray,
    out_schema: *mut FFI_ArrowSchema,
) -> SashStatus {
    guard(|| {
        let out = stream_mut(stream)?.advance(watermark)?;
        emit(out, out_array, out_schema)
    })
}

/// End of input: writes every open window; later pushes are an error.
///
/// # Safety
/// `stream` is a live stream; the outputs are writable.
#[no_mangle]
pub unsafe extern "C" fn sash_window_stream_finish(
    stream: *mut SashWindowStream,
    out_array: *mut FFI_ArrowArray,
    out_schema: *mut FFI_ArrowSchema,
) -> SashStatus {
    guard(|| {
        let out = stream_mut(stream)?.finish()?;
        emit(out, out_array, out_schema)
    })
}

/// Writes the rows that came too late to count (input columns, arrival
/// order) and clears them.
///
/// # Safety
/// `stream` is a live stream; the outputs are writable.
#[no_mangle]
pub unsafe extern "C" fn sash_window_stream_take_late(
    stream: *mut SashWindowStream,
    out_array: *mut FFI_ArrowArray,
    out_schema: *mut FFI_ArrowSchema,
) -> SashStatus {
    guard(|| {
        let out = stream_mut(stream)?.take_late()?;
        emit(out, out_array, out_schema)
    })
}

/// The whole state as bytes: `*out_bytes` (free it with `sash_bytes_free`)
/// of `*out_len` bytes, which `sash_window_stream_restore` (or any other
/// binding's restore) rebuilds.
///
/// # Safety
/// `stream` is a live stream; `out_bytes` and `out_len` are writable.
#[no_mangle]
pub unsafe extern "C" fn sash_window_stream_snapshot(
    stream: *mut SashWindowStream,
    out_bytes: *mut *mut u8,
    out_len: *mut usize,
) -> SashStatus {
    guard(|| {
        not_null(out_bytes, "out_bytes")?;
        not_null(out_len, "out_len")?;
        let bytes = stream_mut(stream)?.snapshot()?.into_boxed_slice();
        let len = bytes.len();
        // SAFETY: checked non-NULL; the caller's writable pointers.
        unsafe {
            *out_len = len;
            *out_bytes = Box::into_raw(bytes) as *mut u8;
        }
        Ok(())
    })
}

/// Frees bytes sash returned (NULL is ignored).
///
/// # Safety
/// `bytes` and `len` are what a sash call returned, freed once.
#[no_mangle]
pub unsafe extern "C" fn sash_bytes_free(bytes: *mut u8, len: usize) {
    if !bytes.is_null() {
        // SAFETY: made by Box::into_raw of a boxed slice of `len` bytes, per the contract.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(bytes, len)) });
    }
}

/// The stream a snapshot was taken of; `bytes` is only read during the call.
/// Bytes that are not a snapshot, cut or corrupted are an error.
///
/// # Safety
/// `bytes` is NULL or `len` readable bytes; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sash_window_stream_restore(bytes: *const u8, len: usize, out: *mut *mut SashWindowStream) -> SashStatus {
    guard(|| {
        not_null(out, "out")?;
        if bytes.is_null() && len > 0 {
            return Err(Error::new(SashStatus::NullArgument, "bytes is NULL"));
        }
        // SAFETY: `len` readable bytes per the contract (or none).
        let data = if len == 0 { &[][..] } else { unsafe { std::slice::from_raw_parts(bytes, len) } };
        let inner = WindowStream::restore(data)?;
        // SAFETY: checked non-NULL; the caller's writable pointer.
        unsafe { *out = Box::into_raw(Box::new(SashWindowStream { inner })) };
        Ok(())
    })
}

/// Frees a stream (NULL is ignored).
///
/// # Safety
/// `stream` is NULL or a stream not freed yet.
#[no_mangle]
pub unsafe extern "C" fn sash_window_stream_free(stream: *mut SashWindowStream) {
    if !stream.is_null() {
        // SAFETY: made by Box::into_raw in _new/_restore, freed once.
        drop(unsafe { Box::from_raw(stream) });
    }
}
