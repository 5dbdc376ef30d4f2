//! Taking input structs from the caller and checking them before arrow-rs
//! reads them; exporting results into the caller's output structs.
//!
//! The C Data Interface does not carry buffer sizes, so a lying producer can
//! always make a consumer read out of bounds. What can be checked is: the
//! structure (pointer, buffer and child counts against the declared type),
//! then, after the import, everything `ArrayData::validate_full` checks
//! (offsets in order and within the values, UTF-8, dictionary keys, ...).

use crate::status::{Error, SashStatus};
use arrow_array::ffi::{from_ffi, to_ffi, FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{Array, ArrayRef, RecordBatch, StructArray};
use arrow_data::ArrayData;
use arrow_schema::{DataType, Schema, SchemaRef};
use std::sync::Arc;

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(SashStatus::InvalidArray, msg)
}

/// Moves the caller's array out of `ptr` (leaving a released struct behind),
/// so that it is released exactly once, by sash, whatever happens next.
///
/// # Safety
/// `ptr` is NULL or points to a writable `struct ArrowArray`.
pub unsafe fn take_array(ptr: *mut FFI_ArrowArray) -> Option<FFI_ArrowArray> {
    // SAFETY: non-NULL and writable per the contract.
    (!ptr.is_null()).then(|| unsafe { std::ptr::replace(ptr, FFI_ArrowArray::empty()) })
}

/// # Safety
/// `ptr` is NULL or points to a writable `struct ArrowSchema`.
pub unsafe fn take_schema(ptr: *mut FFI_ArrowSchema) -> Option<FFI_ArrowSchema> {
    // SAFETY: non-NULL and writable per the contract.
    (!ptr.is_null()).then(|| unsafe { std::ptr::replace(ptr, FFI_ArrowSchema::empty()) })
}

/// # Safety
/// `ptr` is NULL or points to a writable `struct ArrowArrayStream`.
pub unsafe fn take_stream(ptr: *mut FFI_ArrowArrayStream) -> Option<FFI_ArrowArrayStream> {
    // SAFETY: non-NULL and writable per the contract.
    (!ptr.is_null()).then(|| unsafe { std::ptr::replace(ptr, FFI_ArrowArrayStream::empty()) })
}

pub fn required<T>(value: Option<T>, what: &str) -> Result<T, Error> {
    value.ok_or_else(|| Error::new(SashStatus::NullArgument, format!("{what} is NULL")))
}

pub fn not_null<T>(ptr: *mut T, what: &str) -> Result<*mut T, Error> {
    if ptr.is_null() {
        Err(Error::new(SashStatus::NullArgument, format!("{what} is NULL")))
    } else {
        Ok(ptr)
    }
}

fn check_schema(s: &FFI_ArrowSchema, path: &str) -> Result<(), Error> {
    if s.format.is_null() {
        return Err(invalid(format!("{path}: schema format is NULL")));
    }
    if s.n_children < 0 || (s.n_children > 0 && s.children.is_null()) {
        return Err(invalid(format!("{path}: schema has {} children but no children pointer", s.n_children)));
    }
    // SAFETY: non-NULL, NUL-terminated per the interface.
    let format = unsafe { std::ffi::CStr::from_ptr(s.format) };
    let format = format.to_str().map_err(|_| invalid(format!("{path}: the schema format is not UTF-8")))?;
    check_format(format, s.n_children, path)?;
    for i in 0..s.n_children as usize {
        // SAFETY: the producer promises n_children readable pointers.
        let child = unsafe { *s.children.add(i) };
        if child.is_null() {
            return Err(invalid(format!("{path}: schema child {i} is NULL")));
        }
        // SAFETY: non-NULL child of a valid schema.
        check_schema(unsafe { &*child }, &format!("{path}.{i}"))?;
    }
    if !s.dictionary.is_null() {
        // SAFETY: non-NULL dictionary of a valid schema.
        check_schema(unsafe { &*s.dictionary }, &format!("{path}.dictionary"))?;
    }
    Ok(())
}

/// Checks what arrow-rs's conversion of a format string takes for granted
/// (it panics where these fail): the children a nested format needs, and
/// the widths of fixed-size formats.
fn check_format(format: &str, n_children: i64, path: &str) -> Result<(), Error> {
    let children = |want: i64| {
        if n_children == want {
            Ok(())
        } else {
            Err(invalid(format!("{path}: format \"{format}\" needs {want} child schema(s), this schema has {n_children}")))
        }
    };
    let width = |text: &str, least: i32| match text.parse::<i32>() {
        Ok(n) if n >= least => Ok(()),
        _ => Err(invalid(format!("{path}: format \"{format}\" has an invalid width '{text}' (an integer of at least {least})"))),
    };
    match format {
        "+l" | "+L" | "+vl" | "+vL" | "+m" => children(1),
        "+r" => children(2),
        _ => {
            if let Some(size) = format.strip_prefix("+w:") {
                children(1)?;
                width(size, 0)
            } else if let Some(size) = format.strip_prefix("w:") {
                width(size, 0)
            } else if let Some(ids) = format.strip_prefix("+ud:").or_else(|| format.strip_prefix("+us:")) {
                let count = if ids.is_empty() { 0 } else { ids.split(',').count() as i64 };
                if ids.split(',').any(|id| !id.is_empty() && id.parse::<i8>().map_or(true, |id| id < 0)) {
                    return Err(invalid(format!("{path}: format \"{format}\" has an invalid union type id")));
                }
                children(count)
            } else {
                Ok(())
            }
        }
    }
}

/// Checks an array's structure against its type, before arrow-rs follows its pointers.
fn check_array(a: &FFI_ArrowArray, dt: &DataType, path: &str) -> Result<(), Error> {
    if a.length < 0 || a.offset < 0 || a.null_count < -1 {
        return Err(invalid(format!("{path}: negative length ({}), offset ({}) or null_count ({})", a.length, a.offset, a.null_count)));
    }
    let layout = arrow_data::layout(dt);
    let want = layout.buffers.len() + usize::from(layout.can_contain_null_mask) + usize::from(layout.variadic);
    let n = a.n_buffers;
    let ok = if layout.variadic { n >= want as i64 } else { n == want as i64 };
    if !ok {
        return Err(invalid(format!("{path}: an array of type {dt} has {want} buffers in the C Data Interface, this one has {n}")));
    }
    if n > 0 && a.buffers.is_null() {
        return Err(invalid(format!("{path}: {n} buffers but the buffers pointer is NULL")));
    }
    // A null count without a validity bitmap would be read as "no nulls".
    // SAFETY: n_buffers readable pointers, checked above.
    if layout.can_contain_null_mask && a.null_count > 0 && a.length > 0 && unsafe { *a.buffers }.is_null() {
        return Err(invalid(format!("{path}: null_count is {} but the validity buffer is NULL", a.null_count)));
    }
    // Every buffer but the validity bitmap must be there when the array has rows.
    let first = usize::from(layout.can_contain_null_mask);
    // The values of a variable-size binary array may be NULL when they are
    // all empty (arrow-rs checks it against the last offset).
    let last = match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Binary | DataType::LargeBinary => n as usize - 1,
        _ => n as usize,
    };
    for i in first..last {
        // The variadic buffer sizes of a view array are read even when it
        // has no rows (found by the c_import fuzz target).
        let read_anyway = layout.variadic && i == n as usize - 1 && n > want as i64;
        // SAFETY: the producer promises n_buffers readable pointers.
        if (a.length > 0 || read_anyway) && unsafe { *a.buffers.add(i) }.is_null() {
            return Err(invalid(format!("{path}: buffer {i} is NULL")));
        }
    }
    let children: Vec<DataType> = match dt {
        DataType::Struct(fields) => fields.iter().map(|f| f.data_type().clone()).collect(),
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) | DataType::Map(f, _) => {
            vec![f.data_type().clone()]
        }
        DataType::ListView(f) | DataType::LargeListView(f) => vec![f.data_type().clone()],
        DataType::RunEndEncoded(r, v) => vec![r.data_type().clone(), v.data_type().clone()],
        DataType::Union(fields, _) => fields.iter().map(|(_, f)| f.data_type().clone()).collect(),
        _ => Vec::new(),
    };
    if a.n_children != children.len() as i64 {
        return Err(invalid(format!("{path}: type {dt} has {} children, the array has {}", children.len(), a.n_children)));
    }
    if !children.is_empty() && a.children.is_null() {
        return Err(invalid(format!("{path}: the children pointer is NULL")));
    }
    for (i, child_type) in children.iter().enumerate() {
        // SAFETY: the producer promises n_children readable pointers.
        let child = unsafe { *a.children.add(i) };
        if child.is_null() {
            return Err(invalid(format!("{path}: child {i} is NULL")));
        }
        // SAFETY: non-NULL child of the array.
        check_array(unsafe { &*child }, child_type, &format!("{path}.{i}"))?;
    }
    if let DataType::Dictionary(_, values) = dt {
        if a.dictionary.is_null() {
            return Err(invalid(format!("{path}: dictionary array without a dictionary")));
        }
        // SAFETY: non-NULL dictionary of the array.
        check_array(unsafe { &*a.dictionary }, values, &format!("{path}.dictionary"))?;
    }
    Ok(())
}

/// Imports a record batch schema alone (a struct schema, already taken from
/// the caller), with the same checks as a batch's.
pub fn import_schema(schema: &FFI_ArrowSchema) -> Result<SchemaRef, Error> {
    if schema.release.is_none() {
        return Err(Error::new(SashStatus::Released, "the input schema was already released (its release callback is NULL)"));
    }
    check_schema(schema, "schema")?;
    let schema = Schema::try_from(schema).map_err(|e| invalid(format!("the schema is not a record batch schema: {e}")))?;
    Ok(Arc::new(schema))
}

/// Imports an array and its schema (both already taken from the caller),
/// checking the structure first and all the data after.
pub fn import(array: FFI_ArrowArray, schema: &FFI_ArrowSchema) -> Result<(ArrayRef, Option<SchemaRef>), Error> {
    if array.release.is_none() {
        return Err(Error::new(SashStatus::Released, "the input array was already released (its release callback is NULL)"));
    }
    if schema.release.is_none() {
        return Err(Error::new(SashStatus::Released, "the input schema was already released (its release callback is NULL)"));
    }
    check_schema(schema, "schema")?;
    let dt = DataType::try_from(schema).map_err(|e| invalid(format!("the schema does not describe an Arrow type: {e}")))?;
    check_array(&array, &dt, "array")?;
    // SAFETY: structure checked above; the buffers are the producer's promise.
    let data: ArrayData = unsafe { from_ffi(array, schema) }.map_err(|e| invalid(format!("the array cannot be imported: {e}")))?;
    check_child_extents(&data, "array")?;
    let data = match data.validate_full() {
        Ok(()) => data,
        Err(e) => {
            let cleaned = zero_null_views(&data).ok_or_else(|| invalid(format!("the array is malformed: {e}")))?;
            cleaned.validate_full().map_err(|_| invalid(format!("the array is malformed: {e}")))?;
            cleaned
        }
    };
    let record_schema = match &dt {
        DataType::Struct(_) => Some(Arc::new(Schema::try_from(schema).map_err(|e| invalid(e.to_string()))?)),
        _ => None,
    };
    Ok((arrow_array::make_array(data), record_schema))
}

/// Checks that the children of struct and fixed-size list arrays cover the
/// parent's offset as well as its length: arrow-rs's validation checks the
/// length only, and building the array then slices past a child's end (a
/// panic, found by the c_import fuzz target), or overflows computing it.
fn check_child_extents(data: &ArrayData, path: &str) -> Result<(), Error> {
    let end = data.offset().checked_add(data.len());
    let needed = match data.data_type() {
        DataType::Struct(_) => end,
        DataType::FixedSizeList(_, size) => end.and_then(|end| end.checked_mul(usize::try_from(*size).ok()?)),
        _ => Some(0),
    };
    let Some(needed) = needed else {
        return Err(invalid(format!(
            "the array is malformed: {path}: its offset ({}) and length ({}) overflow",
            data.offset(),
            data.len()
        )));
    };
    for (i, child) in data.child_data().iter().enumerate() {
        if child.len() < needed {
            return Err(invalid(format!(
                "the array is malformed: {path}: child {i} has {} rows, the {} array needs {needed} (offset {} + length {})",
                child.len(),
                data.data_type(),
                data.offset(),
                data.len()
            )));
        }
        check_child_extents(child, &format!("{path}.{i}"))?;
    }
    Ok(())
}

/// The array with the views of its null slots (and its struct fields' null
/// slots) zeroed, or None when it has no view array with nulls.
///
/// The content of a null slot is undefined in Arrow, and producers leave
/// garbage there (Arrow Java 19's ViewVarCharVector does not clear the view
/// of a slot set to null), but arrow-rs validates every view. Only the views
/// buffer is copied; the data buffers are still the producer's.
fn zero_null_views(data: &ArrayData) -> Option<ArrayData> {
    match data.data_type() {
        DataType::Utf8View | DataType::BinaryView if data.null_count() > 0 => {
            let mut views = data.buffers()[0].as_slice().to_vec();
            for i in 0..data.len() {
                if data.is_null(i) {
                    let at = (data.offset() + i) * 16;
                    views.get_mut(at..at + 16)?.fill(0);
                }
            }
            let mut buffers = data.buffers().to_vec();
            buffers[0] = arrow_buffer::Buffer::from_vec(views);
            // SAFETY: the same array with zeroed (empty, valid) views in null slots; validated by the caller.
            Some(unsafe { data.clone().into_builder().buffers(buffers).build_unchecked() })
        }
        DataType::Struct(_) => {
            let children: Vec<Option<ArrayData>> = data.child_data().iter().map(zero_null_views).collect();
            if children.iter().all(Option::is_none) {
                return None;
            }
            let children = children.into_iter().zip(data.child_data()).map(|(new, old)| new.unwrap_or_else(|| old.clone())).collect();
            // SAFETY: the same struct with cleaned children; validated by the caller.
            Some(unsafe { data.clone().into_builder().child_data(children).build_unchecked() })
        }
        _ => None,
    }
}

/// Imports a record batch: a struct array whose fields are the columns.
pub fn import_batch(array: FFI_ArrowArray, schema: &FFI_ArrowSchema) -> Result<(SchemaRef, RecordBatch), Error> {
    let (array, record_schema) = import(array, schema)?;
    let Some(schema) = record_schema else {
        return Err(Error::new(
            SashStatus::InvalidArray,
            format!("a record batch is a struct array (format \"+s\"); this array has type {}", array.data_type()),
        ));
    };
    let s = array.as_any().downcast_ref::<StructArray>().expect("a struct type imports as a StructArray");
    if s.null_count() > 0 {
        return Err(invalid("a record batch cannot have null rows at the top level"));
    }
    let batch = RecordBatch::try_new_with_options(
        schema.clone(),
        s.columns().to_vec(),
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(s.len())),
    )
    .map_err(|e| invalid(format!("the struct array is not a valid record batch: {e}")))?;
    Ok((schema, batch))
}

/// Writes a batch into the caller's output structs (as a struct array and
/// its schema, with the schema's metadata).
///
/// # Safety
/// Both pointers are non-NULL and writable; their old contents are not read.
pub unsafe fn export_batch(batch: RecordBatch, out_array: *mut FFI_ArrowArray, out_schema: *mut FFI_ArrowSchema) -> Result<(), Error> {
    let schema = FFI_ArrowSchema::try_from(batch.schema().as_ref())?;
    let data = StructArray::from(batch).into_data();
    let (array, _) = to_ffi(&data)?;
    // SAFETY: per the contract; nothing can fail after this point.
    unsafe {
        std::ptr::write(out_array, array);
        std::ptr::write(out_schema, schema);
    }
    Ok(())
}

/// A caller's stream of record batches, read with the same checks as a
/// single batch (structure, then `validate_full`), which arrow-rs's own
/// stream reader does not do.
pub struct StreamInput {
    stream: FFI_ArrowArrayStream,
    ffi_schema: FFI_ArrowSchema,
    schema: SchemaRef,
}

// SAFETY: the C Stream Interface lets a consumer pull from any thread, one at a time.
unsafe impl Send for StreamInput {}

impl std::fmt::Debug for StreamInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamInput").field("schema", &self.schema).finish()
    }
}

impl StreamInput {
    pub fn open(mut stream: FFI_ArrowArrayStream) -> Result<StreamInput, Error> {
        if stream.release.is_none() {
            return Err(Error::new(SashStatus::Released, "the input stream was already released (its release callback is NULL)"));
        }
        let (Some(get_schema), true, true) = (stream.get_schema, stream.get_next.is_some(), stream.get_last_error.is_some()) else {
            return Err(invalid("the input stream has a NULL callback"));
        };
        let mut ffi_schema = FFI_ArrowSchema::empty();
        // SAFETY: a live stream and a writable output struct.
        let rc = unsafe { get_schema(&mut stream, &mut ffi_schema) };
        if rc != 0 {
            return Err(invalid(format!("the input stream's get_schema failed ({rc}): {}", last_stream_error(&mut stream))));
        }
        if ffi_schema.release.is_none() {
            return Err(invalid("the input stream's get_schema returned a released schema"));
        }
        check_schema(&ffi_schema, "stream schema")?;
        let schema =
            Schema::try_from(&ffi_schema).map_err(|e| invalid(format!("the input stream's schema is not a record batch schema: {e}")))?;
        Ok(StreamInput { stream, ffi_schema, schema: Arc::new(schema) })
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Every remaining batch, each checked, with the stream's schema.
    pub fn read_all(self) -> Result<(SchemaRef, Vec<RecordBatch>), Error> {
        let schema = self.schema();
        let batches = self.collect::<Result<Vec<_>, _>>()?;
        Ok((schema, batches))
    }

    /// The next batch, checked; None at the end of the stream.
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>, Error> {
        let get_next = self.stream.get_next.expect("checked at open");
        let mut array = FFI_ArrowArray::empty();
        // SAFETY: a live stream and a writable output struct.
        let rc = unsafe { get_next(&mut self.stream, &mut array) };
        if rc != 0 {
            return Err(invalid(format!("the input stream's get_next failed ({rc}): {}", last_stream_error(&mut self.stream))));
        }
        if array.release.is_none() {
            return Ok(None);
        }
        let (_, batch) = import_batch(array, &self.ffi_schema)?;
        Ok(Some(batch.with_schema(self.schema.clone()).map_err(|e| invalid(e.to_string()))?))
    }
}

impl Iterator for StreamInput {
    type Item = Result<RecordBatch, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_batch().transpose()
    }
}

fn last_stream_error(stream: &mut FFI_ArrowArrayStream) -> String {
    let Some(get_last_error) = stream.get_last_error else { return "(no message)".into() };
    // SAFETY: a live stream; the message is NUL-terminated or NULL.
    let ptr = unsafe { get_last_error(stream) };
    if ptr.is_null() {
        "(no message)".into()
    } else {
        // SAFETY: non-NULL, NUL-terminated per the interface.
        unsafe { std::ffi::CStr::from_ptr(ptr) }.to_string_lossy().into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Array, StringViewArray};
    use arrow_buffer::{NullBuffer, ScalarBuffer};

    #[test]
    fn children_shorter_than_offset_plus_length_are_an_error() {
        // Validation checks the child's length against the parent's length
        // only; building the array would slice past the child's end.
        let child = arrow_array::NullArray::new(0).to_data();
        let field = Arc::new(arrow_schema::Field::new("item", DataType::Null, true));
        let list =
            unsafe { ArrayData::builder(DataType::FixedSizeList(field, 2)).len(0).offset(23).child_data(vec![child]).build_unchecked() };
        let (array, schema) = to_ffi(&list).unwrap();
        let err = import(array, &schema).unwrap_err();
        assert_eq!(err.status, SashStatus::InvalidArray, "{}", err.message);
        assert!(err.message.contains("needs 46"), "{}", err.message);

        let column = arrow_array::Int64Array::from(vec![1, 2, 3]).to_data();
        let fields = arrow_schema::Fields::from(vec![arrow_schema::Field::new("a", DataType::Int64, false)]);
        let batch = unsafe { ArrayData::builder(DataType::Struct(fields)).len(3).offset(1).child_data(vec![column]).build_unchecked() };
        let (array, schema) = to_ffi(&batch).unwrap();
        let err = import_batch(array, &schema).unwrap_err();
        assert_eq!(err.status, SashStatus::InvalidArray, "{}", err.message);
        assert!(err.message.contains("needs 4"), "{}", err.message);
    }

    #[test]
    fn garbage_views_in_null_slots_are_accepted_and_cleaned() {
        // Slot 1 is null but its view claims 4 bytes inline with non-zero padding
        // (what Arrow Java leaves behind); arrow-rs alone rejects the array.
        let good = StringViewArray::from(vec!["abc"]).to_data();
        let mut views: Vec<u128> = vec![good.buffers()[0].typed_data::<u128>()[0], 0];
        views[1] = 4 | (5u128 << 64);
        let data = unsafe {
            ArrayData::builder(DataType::Utf8View)
                .len(2)
                .add_buffer(ScalarBuffer::from(views).into_inner())
                .nulls(Some(NullBuffer::from(vec![true, false])))
                .build_unchecked()
        };
        assert!(data.validate_full().is_err());
        let (array, schema) = to_ffi(&data).unwrap();
        let (imported, _) = import(array, &schema).unwrap();
        let strings = imported.as_any().downcast_ref::<StringViewArray>().unwrap();
        assert_eq!(strings.value(0), "abc");
        assert!(strings.is_null(1));
    }
}
