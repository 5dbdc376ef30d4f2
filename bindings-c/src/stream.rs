//! `sash_window_stream` and `sash_rolling_stream`: windows and rolling
//! aggregation over input that never stops arriving (docs/semantics.md,
//! "Streaming"), as opaque handles. The entry points of both are thin
//! wrappers of one generic body each.

use crate::error::{guard, Error, SashStatus};
use crate::import::{export_batch, import_batch, not_null};
use crate::{single_inputs, spec_text};
use arrow_array::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::RecordBatch;
use sash_core::{RollingStream, WindowStream};
use std::ffi::c_char;

/// A window stream (opaque): tumbling, hopping or session windows over
/// pushes of rows, each emitted once the watermark passes it. Create it with
/// `sash_window_stream_new` (or `_restore`), free it with
/// `sash_window_stream_free`. Not thread-safe: use a stream from one thread
/// at a time (different streams are independent). A failed call leaves the
/// stream as it was.
#[derive(Debug)]
pub struct SashWindowStream {
    inner: WindowStream,
}

/// A rolling stream (opaque): rolling aggregation over pushes of rows, each
/// row's result emitted once the watermark passes its time. Lifetimes,
/// thread-safety and failed calls as for `SashWindowStream`; the functions
/// are `sash_rolling_stream_*`, the same as `sash_window_stream_*`. (The
/// type is `sash_rolling_stream_handle`: `sash_rolling_stream` is the
/// function that rolls over a whole `ArrowArrayStream`.)
#[derive(Debug)]
pub struct SashRollingStream {
    inner: RollingStream,
}

/// What a stream has seen (`sash_window_stream_stats`, `sash_rolling_stream_stats`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct SashStreamStats {
    /// Rows pushed, late ones and dropped null times included.
    pub rows_in: u64,
    /// Rows that came too late to count (see `_take_late`).
    pub rows_late: u64,
    /// Rows left out for a null time under `null_time = "drop"`.
    pub null_times_dropped: u64,
    /// Open states: (keys, pane) of tumbling and hopping windows, (keys,
    /// session) of sessions; for a rolling stream, the rows whose result is
    /// not emitted yet.
    pub open_windows: u64,
    /// Bytes the open states and the untaken late rows hold.
    pub state_bytes: u64,
}

/// What both core streams do, for the generic bodies below.
trait CoreStream: Sized {
    fn from_json(spec: &str) -> sash_core::Result<Self>;
    fn restore(bytes: &[u8]) -> sash_core::Result<Self>;
    fn push(&mut self, batch: &RecordBatch) -> sash_core::Result<RecordBatch>;
    fn snapshot(&self) -> sash_core::Result<Vec<u8>>;
    fn watermark(&self) -> Option<i64>;
    fn stats(&self) -> sash_core::StreamStats;
}

macro_rules! core_stream {
    ($core:ty, $handle:ident) => {
        impl CoreStream for $core {
            fn from_json(spec: &str) -> sash_core::Result<Self> {
                <$core>::from_json(spec)
            }
            fn restore(bytes: &[u8]) -> sash_core::Result<Self> {
                <$core>::restore(bytes)
            }
            fn push(&mut self, batch: &RecordBatch) -> sash_core::Result<RecordBatch> {
                <$core>::push(self, batch)
            }
            fn snapshot(&self) -> sash_core::Result<Vec<u8>> {
                <$core>::snapshot(self)
            }
            fn watermark(&self) -> Option<i64> {
                <$core>::watermark(self)
            }
            fn stats(&self) -> sash_core::StreamStats {
                <$core>::stats(self)
            }
        }

        impl Handle for $handle {
            type Core = $core;
            fn wrap(inner: $core) -> Self {
                $handle { inner }
            }
            fn inner(&mut self) -> &mut $core {
                &mut self.inner
            }
        }
    };
}

/// An opaque handle around a core stream.
trait Handle: Sized {
    type Core: CoreStream;
    fn wrap(inner: Self::Core) -> Self;
    fn inner(&mut self) -> &mut Self::Core;
}

core_stream!(WindowStream, SashWindowStream);
core_stream!(RollingStream, SashRollingStream);

fn stream_mut<'a, H: Handle + 'a>(stream: *mut H) -> Result<&'a mut H::Core, Error> {
    // SAFETY: non-NULL (checked) and from a _new/_restore of this kind, per the contract.
    Ok(unsafe { (*not_null(stream, "stream")?).inner() })
}

/// Writes a result batch into the caller's output structs.
fn emit(out: RecordBatch, out_array: *mut FFI_ArrowArray, out_schema: *mut FFI_ArrowSchema) -> Result<(), Error> {
    not_null(out_array, "out_array")?;
    not_null(out_schema, "out_schema")?;
    // SAFETY: checked non-NULL; the caller's writable structs.
    unsafe { export_batch(out, out_array, out_schema) }
}

fn new<H: Handle>(spec_json: *const c_char, out: *mut *mut H) -> SashStatus {
    guard(|| {
        not_null(out, "out")?;
        let inner = H::Core::from_json(spec_text(spec_json)?)?;
        // SAFETY: checked non-NULL; the caller's writable pointer.
        unsafe { *out = Box::into_raw(Box::new(H::wrap(inner))) };
        Ok(())
    })
}

fn push<H: Handle>(
    stream: *mut H,
    array: *mut FFI_ArrowArray,
    schema: *mut FFI_ArrowSchema,
    out_array: *mut FFI_ArrowArray,
    out_schema: *mut FFI_ArrowSchema,
) -> SashStatus {
    guard(|| {
        // SAFETY: the caller's pointers, per the contract of the entry points.
        let (array, schema) = unsafe { single_inputs(array, schema, out_array, out_schema) }?;
        let (_, batch) = import_batch(array, &schema)?;
        let out = stream_mut(stream)?.push(&batch)?;
        emit(out, out_array, out_schema)
    })
}

/// A call that writes one result batch: advance, finish, take_late.
fn step<H: Handle>(
    stream: *mut H,
    out_array: *mut FFI_ArrowArray,
    out_schema: *mut FFI_ArrowSchema,
    f: impl FnOnce(&mut H::Core) -> sash_core::Result<RecordBatch>,
) -> SashStatus {
    guard(|| {
        let out = f(stream_mut(stream)?)?;
        emit(out, out_array, out_schema)
    })
}

fn snapshot<H: Handle>(stream: *mut H, out_bytes: *mut *mut u8, out_len: *mut usize) -> SashStatus {
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

fn watermark<H: Handle>(stream: *mut H, out_watermark: *mut i64, out_has_watermark: *mut bool) -> SashStatus {
    guard(|| {
        not_null(out_watermark, "out_watermark")?;
        not_null(out_has_watermark, "out_has_watermark")?;
        let watermark = stream_mut(stream)?.watermark();
        // SAFETY: checked non-NULL; the caller's writable pointers.
        unsafe {
            *out_has_watermark = watermark.is_some();
            *out_watermark = watermark.unwrap_or(i64::MIN);
        }
        Ok(())
    })
}

fn stats<H: Handle>(stream: *mut H, out: *mut SashStreamStats) -> SashStatus {
    guard(|| {
        not_null(out, "out")?;
        let s = stream_mut(stream)?.stats();
        // SAFETY: checked non-NULL; the caller's writable struct.
        unsafe {
            *out = SashStreamStats {
                rows_in: s.rows_in,
                rows_late: s.rows_late,
                null_times_dropped: s.null_times_dropped,
                open_windows: s.open_windows as u64,
                state_bytes: s.state_bytes as u64,
            }
        };
        Ok(())
    })
}

fn restore<H: Handle>(bytes: *const u8, len: usize, out: *mut *mut H) -> SashStatus {
    guard(|| {
        not_null(out, "out")?;
        if bytes.is_null() && len > 0 {
            return Err(Error::new(SashStatus::NullArgument, "bytes is NULL"));
        }
        // SAFETY: `len` readable bytes per the contract (or none).
        let data = if len == 0 { &[][..] } else { unsafe { std::slice::from_raw_parts(bytes, len) } };
        let inner = H::Core::restore(data)?;
        // SAFETY: checked non-NULL; the caller's writable pointer.
        unsafe { *out = Box::into_raw(Box::new(H::wrap(inner))) };
        Ok(())
    })
}

fn free<H>(stream: *mut H) {
    if !stream.is_null() {
        // SAFETY: made by Box::into_raw in _new/_restore, freed once, per the contract.
        drop(unsafe { Box::from_raw(stream) });
    }
}

/// A new stream for `spec_json`: a window spec as `sash_window_agg` takes
/// it, with optional `"lateness"` (a duration, default 0) and
/// `"max_state_bytes"`. On success `*out` is the stream.
///
/// # Safety
/// `spec_json` is NULL or a NUL-terminated string; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sash_window_stream_new(spec_json: *const c_char, out: *mut *mut SashWindowStream) -> SashStatus {
    new(spec_json, out)
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
    push(stream, array, schema, out_array, out_schema)
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
    step(stream, out_array, out_schema, |s| s.advance(watermark))
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
    step(stream, out_array, out_schema, |s| s.finish())
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
    step(stream, out_array, out_schema, |s| s.take_late())
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
    snapshot(stream, out_bytes, out_len)
}

/// The watermark: `*out_has_watermark` is false (and `*out_watermark`
/// INT64_MIN) until a push with a time or an advance sets it; then
/// `*out_watermark` is in ticks of the time column.
///
/// # Safety
/// `stream` is a live stream; the outputs are writable.
#[no_mangle]
pub unsafe extern "C" fn sash_window_stream_watermark(
    stream: *mut SashWindowStream,
    out_watermark: *mut i64,
    out_has_watermark: *mut bool,
) -> SashStatus {
    watermark(stream, out_watermark, out_has_watermark)
}

/// Writes what the stream has seen into `*out`.
///
/// # Safety
/// `stream` is a live stream; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn sash_window_stream_stats(stream: *mut SashWindowStream, out: *mut SashStreamStats) -> SashStatus {
    stats(stream, out)
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
    restore(bytes, len, out)
}

/// Frees a stream (NULL is ignored).
///
/// # Safety
/// `stream` is NULL or a stream not freed yet.
#[no_mangle]
pub unsafe extern "C" fn sash_window_stream_free(stream: *mut SashWindowStream) {
    free(stream)
}

/// A new rolling stream for `spec_json`: a rolling spec as `sash_rolling`
/// takes it, with optional `"lateness"` and `"max_state_bytes"`.
///
/// # Safety
/// As `sash_window_stream_new`.
#[no_mangle]
pub unsafe extern "C" fn sash_rolling_stream_new(spec_json: *const c_char, out: *mut *mut SashRollingStream) -> SashStatus {
    new(spec_json, out)
}

/// Pushes one record batch (taken) and writes the rows whose results it
/// made final, by time (ties in arrival order).
///
/// # Safety
/// As `sash_window_stream_push`.
#[no_mangle]
pub unsafe extern "C" fn sash_rolling_stream_push(
    stream: *mut SashRollingStream,
    array: *mut FFI_ArrowArray,
    schema: *mut FFI_ArrowSchema,
    out_array: *mut FFI_ArrowArray,
    out_schema: *mut FFI_ArrowSchema,
) -> SashStatus {
    push(stream, array, schema, out_array, out_schema)
}

/// Moves the watermark (ticks) if later and writes the results that became final.
///
/// # Safety
/// As `sash_window_stream_advance`.
#[no_mangle]
pub unsafe extern "C" fn sash_rolling_stream_advance(
    stream: *mut SashRollingStream,
    watermark: i64,
    out_array: *mut FFI_ArrowArray,
    out_schema: *mut FFI_ArrowSchema,
) -> SashStatus {
    step(stream, out_array, out_schema, |s| s.advance(watermark))
}

/// End of input: writes every remaining row's result.
///
/// # Safety
/// As `sash_window_stream_finish`.
#[no_mangle]
pub unsafe extern "C" fn sash_rolling_stream_finish(
    stream: *mut SashRollingStream,
    out_array: *mut FFI_ArrowArray,
    out_schema: *mut FFI_ArrowSchema,
) -> SashStatus {
    step(stream, out_array, out_schema, |s| s.finish())
}

/// Writes the rows that came too late (input columns, arrival order) and clears them.
///
/// # Safety
/// As `sash_window_stream_take_late`.
#[no_mangle]
pub unsafe extern "C" fn sash_rolling_stream_take_late(
    stream: *mut SashRollingStream,
    out_array: *mut FFI_ArrowArray,
    out_schema: *mut FFI_ArrowSchema,
) -> SashStatus {
    step(stream, out_array, out_schema, |s| s.take_late())
}

/// The whole state as bytes (free with `sash_bytes_free`).
///
/// # Safety
/// As `sash_window_stream_snapshot`.
#[no_mangle]
pub unsafe extern "C" fn sash_rolling_stream_snapshot(
    stream: *mut SashRollingStream,
    out_bytes: *mut *mut u8,
    out_len: *mut usize,
) -> SashStatus {
    snapshot(stream, out_bytes, out_len)
}

/// The rolling stream a snapshot was taken of.
///
/// # Safety
/// As `sash_window_stream_restore`.
#[no_mangle]
pub unsafe extern "C" fn sash_rolling_stream_restore(bytes: *const u8, len: usize, out: *mut *mut SashRollingStream) -> SashStatus {
    restore(bytes, len, out)
}

/// As `sash_window_stream_watermark`.
///
/// # Safety
/// As `sash_window_stream_watermark`.
#[no_mangle]
pub unsafe extern "C" fn sash_rolling_stream_watermark(
    stream: *mut SashRollingStream,
    out_watermark: *mut i64,
    out_has_watermark: *mut bool,
) -> SashStatus {
    watermark(stream, out_watermark, out_has_watermark)
}

/// As `sash_window_stream_stats`.
///
/// # Safety
/// As `sash_window_stream_stats`.
#[no_mangle]
pub unsafe extern "C" fn sash_rolling_stream_stats(stream: *mut SashRollingStream, out: *mut SashStreamStats) -> SashStatus {
    stats(stream, out)
}

/// Frees a rolling stream (NULL is ignored).
///
/// # Safety
/// As `sash_window_stream_free`.
#[no_mangle]
pub unsafe extern "C" fn sash_rolling_stream_free(stream: *mut SashRollingStream) {
    free(stream)
}
