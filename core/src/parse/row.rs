//! Output columns, filled one row per line, and the per-line context the
//! format parsers read from.
//!
//! String fields are not copied: a field is a *view* (Arrow's 16-byte
//! Utf8View cell) naming the input buffer, offset and length, so the output
//! shares the input's memory (kept alive by reference counting). Fields up to
//! 12 bytes are stored inside the view itself, as Arrow requires. Only values
//! that must change (escapes decoded) are copied, into a side buffer that is
//! buffer 0 of every string column; the input's buffers follow it.

use super::scan::LineMasks;
use super::spec::{timestamp_type, StringOutput};
use arrow_array::builder::ArrayBuilder;
use arrow_array::types::*;
use arrow_array::{
    ArrayRef, ArrowPrimitiveType, BooleanArray, MapArray, PrimitiveArray, RecordBatch, StringArray, StringViewArray, StructArray,
};
use arrow_buffer::{BooleanBufferBuilder, Buffer, NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_data::ByteView;
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};
use std::fmt::Write;
use std::sync::Arc;

/// Why a line stopped parsing: the field, the byte offset within the line,
/// and what was wrong. Rendered into `_error` as `field at byte N: reason`.
///
/// Boxed, so that a `Result` carrying it fits in two registers: parsers
/// return one per field, and a large error type would make every such return
/// go through memory on the path where nothing failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure(Box<FailureDetail>);

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FailureDetail {
    pub field: String,
    pub offset: usize,
    pub reason: String,
}

impl std::ops::Deref for Failure {
    type Target = FailureDetail;
    fn deref(&self) -> &FailureDetail {
        &self.0
    }
}

impl std::ops::DerefMut for Failure {
    fn deref_mut(&mut self) -> &mut FailureDetail {
        &mut self.0
    }
}

impl Failure {
    #[cold]
    pub(crate) fn new(field: &str, offset: usize, reason: impl Into<String>) -> Failure {
        Failure(Box::new(FailureDetail { field: field.to_string(), offset, reason: reason.into() }))
    }

    pub(crate) fn render(&self, out: &mut String) {
        out.clear();
        let _ = write!(out, "{} at byte {}: {}", self.field, self.offset, self.reason);
    }
}

pub(crate) type Parsed = std::result::Result<(), Failure>;

/// Where a line's bytes live, so string fields can point at them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LineCtx<'a> {
    /// The line without its terminator, cut at `cut` when there is one.
    pub bytes: &'a [u8],
    /// Index of the input buffer holding the line (in the output's numbering,
    /// where 0 is the side buffer), or `None` when the line is only inside a
    /// view (≤ 12 bytes), so every field of it is inlined too.
    pub block: Option<u32>,
    /// Offset of the line's first byte in that buffer.
    pub offset: u32,
    /// A byte the line cannot hold in a string (invalid UTF-8, NUL): the
    /// parsers see only the bytes before it and a field reaching it fails.
    pub cut: Option<Cut>,
    /// The line's delimiter masks, read while it was split off the raw
    /// bytes, when the parser reads them ([`super::LineParser::masks`]).
    pub masks: Option<&'a LineMasks>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CutReason {
    InvalidUtf8,
    Nul,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Cut {
    pub at: usize,
    pub reason: CutReason,
}

impl Cut {
    pub(crate) fn describe(&self) -> &'static str {
        match self.reason {
            CutReason::InvalidUtf8 => "invalid UTF-8",
            CutReason::Nul => "NUL byte",
        }
    }
}

impl<'a> LineCtx<'a> {
    /// The failure of a field that reaches the cut: it holds the bad byte.
    #[inline]
    pub(crate) fn check_cut(&self, field: &str, end: usize) -> Parsed {
        match self.cut {
            Some(cut) if end >= cut.at => {
                Err(Failure::new(field, cut.at, format!("{} (the line is unreadable from here)", cut.describe())))
            }
            _ => Ok(()),
        }
    }

    /// The view of `bytes[start..end]`: inline when short, else a pointer.
    #[inline(always)]
    pub(crate) fn view(&self, start: usize, end: usize) -> u128 {
        let value = &self.bytes[start..end];
        let len = value.len();
        if len <= 12 {
            inline_view_within(self.bytes, start, end)
        } else {
            let block = self.block.expect("a line held inline has no field longer than 12 bytes");
            ByteView::new(len as u32, &value[..4]).with_buffer_index(block).with_offset(self.offset + start as u32).as_u128()
        }
    }
}

/// The inline view of `line[start..end]` (at most 12 bytes), read with two
/// fixed-size loads from the line around it when it has 12 bytes there: a
/// copy of a variable length is a library call, and the stack round trip
/// after it stalls the load of the finished cell.
#[inline(always)]
fn inline_view_within(line: &[u8], start: usize, end: usize) -> u128 {
    let len = end - start;
    debug_assert!(len <= 12);
    let (window, shift) = if start + 12 <= line.len() {
        (&line[start..start + 12], 0)
    } else if end >= 12 {
        (&line[end - 12..end], 12 - len)
    } else {
        return inline_view(&line[start..end]);
    };
    let low = u64::from_le_bytes(window[..8].try_into().expect("8 bytes"));
    let high = u32::from_le_bytes(window[8..12].try_into().expect("4 bytes"));
    let data = ((high as u128) << 64 | low as u128) >> (8 * shift);
    let data = data & ((1u128 << (8 * len)) - 1);
    len as u128 | data << 32
}

#[inline]
fn inline_view(value: &[u8]) -> u128 {
    let mut cell = [0u8; 16];
    cell[..4].copy_from_slice(&(value.len() as u32).to_le_bytes());
    cell[4..4 + value.len()].copy_from_slice(value);
    u128::from_le_bytes(cell)
}

/// Which rows of a column hold a value, one bit per row: only a count until
/// the first null (most columns never get one), then packed bits. What
/// `NullBufferBuilder` does, but with every append inlined: arrow's calls
/// out of line to grow its bitmap, once per value of any column that has
/// had a null (an access log's `ident` and `user` on every line).
#[derive(Debug)]
struct Validity {
    len: usize,
    /// Bit i of byte i / 8 set where row i is valid (Arrow's layout), from
    /// the first null on.
    bits: Option<Vec<u8>>,
    capacity: usize,
}

impl Validity {
    fn new(capacity: usize) -> Validity {
        Validity { len: 0, bits: None, capacity }
    }

    #[inline(always)]
    fn push_valid(&mut self) {
        if let Some(bits) = &mut self.bits {
            push_bit(bits, self.len, 1);
        }
        self.len += 1;
    }

    #[inline(always)]
    fn push_null(&mut self) {
        if self.bits.is_none() {
            self.bits = Some(all_valid(self.len, self.capacity));
        }
        if let Some(bits) = &mut self.bits {
            push_bit(bits, self.len, 0);
        }
        self.len += 1;
    }

    fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        self.len = len;
        if let Some(bits) = &mut self.bits {
            bits.truncate(len.div_ceil(8));
            if !len.is_multiple_of(8) {
                // Bits past the end are pushed as zeros and only ever set: clear them.
                *bits.last_mut().expect("a byte per 8 rows") &= (1u8 << (len % 8)) - 1;
            }
        }
    }

    fn finish(&mut self) -> Option<arrow_buffer::NullBuffer> {
        let len = std::mem::take(&mut self.len);
        let bits = self.bits.take()?;
        Some(arrow_buffer::NullBuffer::new(arrow_buffer::BooleanBuffer::new(Buffer::from_vec(bits), 0, len)))
    }
}

/// Appends row `at`'s bit (0 or 1) to `bits`, which holds exactly the rows before it.
#[inline(always)]
fn push_bit(bits: &mut Vec<u8>, at: usize, bit: u8) {
    if at.is_multiple_of(8) {
        bits.push(bit);
    } else if let Some(last) = bits.last_mut() {
        *last |= bit << (at % 8);
    }
}

/// The bits of `len` valid rows, with room for `capacity`.
#[cold]
fn all_valid(len: usize, capacity: usize) -> Vec<u8> {
    let mut bits = Vec::with_capacity(capacity.max(len).div_ceil(8));
    bits.resize(len / 8, 0xFF);
    if !len.is_multiple_of(8) {
        bits.push((1u8 << (len % 8)) - 1);
    }
    bits
}

/// A string column under construction.
#[derive(Debug)]
pub(crate) struct StrCol {
    views: Vec<u128>,
    nulls: Validity,
    /// Decoded values (escapes), buffer 0 of the output.
    side: Vec<u8>,
}

impl StrCol {
    fn new(capacity: usize) -> StrCol {
        StrCol { views: Vec::with_capacity(capacity), nulls: Validity::new(capacity), side: Vec::new() }
    }

    #[inline(always)]
    pub(crate) fn push_view(&mut self, view: u128) {
        self.views.push(view);
        self.nulls.push_valid();
    }

    /// A value that is not in the input (decoded), copied to the side buffer.
    /// The caller guarantees it is valid UTF-8.
    pub(crate) fn push_owned(&mut self, value: &[u8]) {
        if value.len() <= 12 {
            self.push_view(inline_view(value));
        } else {
            let offset = self.side.len() as u32;
            self.side.extend_from_slice(value);
            self.push_view(ByteView::new(value.len() as u32, &value[..4]).with_buffer_index(0).with_offset(offset).as_u128());
        }
    }

    #[inline(always)]
    pub(crate) fn push_null(&mut self) {
        self.views.push(0);
        self.nulls.push_null();
    }

    fn finish(&mut self, blocks: &[Buffer]) -> StringViewArray {
        let mut buffers = Vec::with_capacity(blocks.len() + 1);
        buffers.push(Buffer::from_vec(std::mem::take(&mut self.side)));
        buffers.extend_from_slice(blocks);
        let views = ScalarBuffer::from(std::mem::take(&mut self.views));
        // SAFETY: every view was made by `LineCtx::view` or `push_owned` from
        // bytes that are valid UTF-8: lines are validated (or cut before the
        // first invalid byte) and fields start and end at ASCII delimiters or
        // at the cut, which is a character boundary; decoded values are
        // checked before they are pushed. Offsets and buffer indexes come
        // from the same `blocks` list.
        let nulls = self.nulls.finish();
        if cfg!(debug_assertions) {
            return StringViewArray::try_new(views, buffers, nulls).expect("views are valid UTF-8 within their buffers");
        }
        unsafe { StringViewArray::new_unchecked(views, buffers, nulls) }
    }
}

/// A primitive column under construction.
#[derive(Debug)]
pub(crate) struct PrimCol<T: ArrowPrimitiveType> {
    values: Vec<T::Native>,
    nulls: Validity,
}

impl<T: ArrowPrimitiveType> PrimCol<T> {
    fn new(capacity: usize) -> Self {
        PrimCol { values: Vec::with_capacity(capacity), nulls: Validity::new(capacity) }
    }

    #[inline(always)]
    pub(crate) fn push(&mut self, v: T::Native) {
        self.values.push(v);
        self.nulls.push_valid();
    }

    #[inline]
    fn push_null(&mut self) {
        self.values.push(T::Native::default());
        self.nulls.push_null();
    }

    fn truncate(&mut self, len: usize) {
        self.values.truncate(len);
        self.nulls.truncate(len);
    }

    fn finish(&mut self) -> PrimitiveArray<T> {
        PrimitiveArray::new(ScalarBuffer::from(std::mem::take(&mut self.values)), self.nulls.finish())
    }
}

/// A `Map<Utf8, Utf8>` column (logfmt without declared fields).
#[derive(Debug)]
pub(crate) struct MapCol {
    offsets: Vec<i32>,
    keys: arrow_array::builder::StringBuilder,
    values: arrow_array::builder::StringBuilder,
    nulls: NullBufferBuilder,
}

impl MapCol {
    pub(crate) fn push_entry(&mut self, key: &str, value: Option<&str>) {
        self.keys.append_value(key);
        self.values.append_option(value);
    }

    /// Closes the row's map (after its entries were pushed).
    pub(crate) fn close_row(&mut self) {
        self.offsets.push(self.keys.len() as i32);
        self.nulls.append_non_null();
    }

    fn push_null(&mut self) {
        self.offsets.push(self.keys.len() as i32);
        self.nulls.append_null();
    }

    pub(crate) fn entries_field() -> Arc<Field> {
        Arc::new(Field::new(
            "entries",
            DataType::Struct(Fields::from(vec![Field::new("keys", DataType::Utf8, false), Field::new("values", DataType::Utf8, true)])),
            false,
        ))
    }

    fn finish(&mut self) -> MapArray {
        let keys = self.keys.finish();
        let values = self.values.finish();
        let DataType::Struct(fields) = Self::entries_field().data_type().clone() else { unreachable!() };
        let entries = StructArray::new(fields, vec![Arc::new(keys) as ArrayRef, Arc::new(values)], None);
        let offsets = OffsetBuffer::new(ScalarBuffer::from(std::mem::take(&mut self.offsets)));
        MapArray::new(Self::entries_field(), offsets, entries, self.nulls.finish(), false)
    }
}

/// A `List` column: each row a run of values in `values` (nginx's
/// `$upstream_*` variables, one value per upstream server tried).
#[derive(Debug)]
pub(crate) struct ListCol {
    offsets: Vec<i32>,
    nulls: Validity,
    values: Box<Col>,
}

impl ListCol {
    /// The column the row's elements go to, one push per element; then [`ListCol::close_row`].
    #[inline]
    pub(crate) fn values(&mut self) -> &mut Col {
        &mut self.values
    }

    /// Ends the row's list after its one element was pushed: what
    /// [`ListCol::close_row`] does, without asking the values how many they are.
    #[inline(always)]
    pub(crate) fn close_row_of_one(&mut self) {
        let last = self.offsets.last().copied().unwrap_or(0);
        self.offsets.push(last + 1);
        self.nulls.push_valid();
    }

    /// Ends the row's list after its elements were pushed.
    #[inline]
    pub(crate) fn close_row(&mut self) {
        self.offsets.push(self.values.len() as i32);
        self.nulls.push_valid();
    }
}

/// `Col::$name`: the column as its kind, which the caller knows it is.
macro_rules! element {
    ($name:ident, $variant:ident, $ty:ty) => {
        #[inline]
        pub(crate) fn $name(&mut self) -> &mut $ty {
            match self {
                Col::$variant(c) => c,
                _ => unreachable!("not a {} column", stringify!($variant)),
            }
        }
    };
}

/// One output column of any kind the parsers produce.
#[derive(Debug)]
pub(crate) enum Col {
    Str(StrCol),
    U8(PrimCol<UInt8Type>),
    U16(PrimCol<UInt16Type>),
    U32(PrimCol<UInt32Type>),
    U64(PrimCol<UInt64Type>),
    I64(PrimCol<Int64Type>),
    F64(PrimCol<Float64Type>),
    Bool { values: BooleanBufferBuilder, nulls: NullBufferBuilder },
    Ts(PrimCol<TimestampMicrosecondType>),
    Map(MapCol),
    List(ListCol),
}

impl Col {
    pub(crate) fn for_type(data_type: &DataType, capacity: usize) -> Col {
        match data_type {
            DataType::Utf8View | DataType::Utf8 | DataType::LargeUtf8 => Col::Str(StrCol::new(capacity)),
            DataType::UInt8 => Col::U8(PrimCol::new(capacity)),
            DataType::UInt16 => Col::U16(PrimCol::new(capacity)),
            DataType::UInt32 => Col::U32(PrimCol::new(capacity)),
            DataType::UInt64 => Col::U64(PrimCol::new(capacity)),
            DataType::Int64 => Col::I64(PrimCol::new(capacity)),
            DataType::Float64 => Col::F64(PrimCol::new(capacity)),
            DataType::Boolean => Col::Bool { values: BooleanBufferBuilder::new(capacity), nulls: NullBufferBuilder::new(capacity) },
            DataType::Timestamp(..) => Col::Ts(PrimCol::new(capacity)),
            DataType::Map(..) => Col::Map(MapCol {
                offsets: vec![0],
                keys: Default::default(),
                values: Default::default(),
                nulls: NullBufferBuilder::new(capacity),
            }),
            DataType::List(item) => Col::List(ListCol {
                offsets: vec![0],
                nulls: Validity::new(capacity),
                values: Box::new(Col::for_type(item.data_type(), capacity)),
            }),
            other => unreachable!("no parser makes {other} columns"),
        }
    }

    fn len(&self) -> usize {
        match self {
            Col::Str(c) => c.views.len(),
            Col::U8(c) => c.values.len(),
            Col::U16(c) => c.values.len(),
            Col::U32(c) => c.values.len(),
            Col::U64(c) => c.values.len(),
            Col::I64(c) => c.values.len(),
            Col::F64(c) => c.values.len(),
            Col::Bool { values, .. } => values.len(),
            Col::Ts(c) => c.values.len(),
            Col::Map(c) => c.offsets.len() - 1,
            Col::List(c) => c.offsets.len() - 1,
        }
    }

    /// Drops the values after the first `len` (a row being written again).
    fn truncate(&mut self, len: usize) {
        match self {
            Col::Str(c) => {
                // Decoded values the dropped views named stay in the side
                // buffer, unreferenced: harmless, and rare.
                c.views.truncate(len);
                c.nulls.truncate(len);
            }
            Col::U8(c) => c.truncate(len),
            Col::U16(c) => c.truncate(len),
            Col::U32(c) => c.truncate(len),
            Col::U64(c) => c.truncate(len),
            Col::I64(c) => c.truncate(len),
            Col::F64(c) => c.truncate(len),
            Col::Bool { values, nulls } => {
                values.truncate(len);
                nulls.truncate(len);
            }
            Col::Ts(c) => c.truncate(len),
            Col::Map(_) => unreachable!("no parser writes a map row again"),
            Col::List(c) => {
                // Also when the row's list was left open (items pushed, no
                // `close_row`): its items go with it.
                c.offsets.truncate(len + 1);
                let values = c.offsets[len] as usize;
                c.values.truncate(values);
                c.nulls.truncate(len);
            }
        }
    }

    /// A null row, or a null element of a list.
    pub(crate) fn push_null(&mut self) {
        match self {
            Col::Str(c) => c.push_null(),
            Col::U8(c) => c.push_null(),
            Col::U16(c) => c.push_null(),
            Col::U32(c) => c.push_null(),
            Col::U64(c) => c.push_null(),
            Col::I64(c) => c.push_null(),
            Col::F64(c) => c.push_null(),
            Col::Bool { values, nulls } => {
                values.append(false);
                nulls.append_null();
            }
            Col::Ts(c) => c.push_null(),
            Col::Map(c) => c.push_null(),
            Col::List(c) => {
                c.offsets.push(c.values.len() as i32);
                c.nulls.push_null();
            }
        }
    }

    // The column of a list's elements, as its kind (a list's values are
    // pushed one element at a time, not through `Columns`).
    element!(as_str, Str, StrCol);
    element!(as_u16, U16, PrimCol<UInt16Type>);
    element!(as_u64, U64, PrimCol<UInt64Type>);
    element!(as_f64, F64, PrimCol<Float64Type>);

    /// The finished array, strings as `strings` asks.
    fn finish(&mut self, blocks: &[Buffer], strings: StringOutput) -> Result<ArrayRef, arrow_schema::ArrowError> {
        Ok(match self {
            Col::Str(c) => {
                let views = Arc::new(c.finish(blocks)) as ArrayRef;
                match strings {
                    StringOutput::View => views,
                    other => arrow_cast::cast(&views, &other.data_type())?,
                }
            }
            Col::U8(c) => Arc::new(c.finish()),
            Col::U16(c) => Arc::new(c.finish()),
            Col::U32(c) => Arc::new(c.finish()),
            Col::U64(c) => Arc::new(c.finish()),
            Col::I64(c) => Arc::new(c.finish()),
            Col::F64(c) => Arc::new(c.finish()),
            Col::Bool { values, nulls } => Arc::new(BooleanArray::new(values.finish(), nulls.finish())),
            Col::Ts(c) => Arc::new(c.finish().with_timezone("UTC")),
            Col::Map(c) => Arc::new(c.finish()),
            Col::List(c) => {
                let values = c.values.finish(blocks, strings)?;
                let offsets = OffsetBuffer::new(ScalarBuffer::from(std::mem::replace(&mut c.offsets, vec![0])));
                let item = Arc::new(Field::new("item", values.data_type().clone(), true));
                Arc::new(arrow_array::ListArray::try_new(item, offsets, values, c.nulls.finish())?)
            }
        })
    }
}

/// The type a column of `data_type` comes out as: strings as asked,
/// timestamps in UTC, list items likewise.
pub(crate) fn output_type(data_type: &DataType, strings: StringOutput) -> DataType {
    match data_type {
        DataType::Utf8View | DataType::Utf8 | DataType::LargeUtf8 => strings.data_type(),
        DataType::Timestamp(..) => timestamp_type(),
        DataType::List(item) => DataType::List(Arc::new(Field::new("item", output_type(item.data_type(), strings), true))),
        other => other.clone(),
    }
}

/// The columns of one output batch plus `_error`.
///
/// Parsers write a row through the accessors (`str`, `u16`, ..., `bool`,
/// `set_null`), and each accessor call writes exactly one value: a parser
/// computes the value first and then calls the accessor, never the other way
/// round. Counting those calls lets [`Columns::end_row`] skip its look at
/// every column when the parser wrote them all, as on almost every line.
#[derive(Debug)]
pub(crate) struct Columns {
    pub fields: Vec<Field>,
    pub cols: Vec<Col>,
    rows: usize,
    /// Values written in the current row.
    written: usize,
    /// The failed rows and where each one's message ends in `messages`:
    /// `_error` is built from them at the end, since nearly every row's is null.
    failures: Vec<(usize, usize)>,
    messages: String,
    scratch: String,
    /// The output's column order, when it is not the order the parser
    /// writes them in ([`super::LineParser::output_order`]).
    order: Option<Vec<usize>>,
}

macro_rules! accessor {
    ($name:ident, $variant:ident, $ty:ty) => {
        #[inline(always)]
        pub(crate) fn $name(&mut self, i: usize) -> &mut $ty {
            self.written += 1;
            match &mut self.cols[i] {
                Col::$variant(c) => c,
                _ => unreachable!("column {i} is not {}", stringify!($variant)),
            }
        }
    };
}

impl Columns {
    /// Columns for these fields (strings are built as views whatever the
    /// requested output, and converted in [`Columns::finish`]).
    pub(crate) fn new(fields: Vec<Field>, capacity: usize) -> Columns {
        let cols = fields.iter().map(|f| Col::for_type(f.data_type(), capacity)).collect();
        Columns { fields, cols, rows: 0, written: 0, failures: Vec::new(), messages: String::new(), scratch: String::new(), order: None }
    }

    /// Columns whose output order is `order` (output column j is written column `order[j]`).
    pub(crate) fn with_order(mut self, order: Option<Vec<usize>>) -> Columns {
        self.order = order;
        self
    }

    accessor!(str, Str, StrCol);
    accessor!(u8, U8, PrimCol<UInt8Type>);
    accessor!(u16, U16, PrimCol<UInt16Type>);
    accessor!(u32, U32, PrimCol<UInt32Type>);
    accessor!(u64, U64, PrimCol<UInt64Type>);
    accessor!(i64, I64, PrimCol<Int64Type>);
    accessor!(f64, F64, PrimCol<Float64Type>);
    accessor!(ts, Ts, PrimCol<TimestampMicrosecondType>);
    accessor!(map, Map, MapCol);
    accessor!(list, List, ListCol);

    #[inline]
    pub(crate) fn bool(&mut self, i: usize, v: bool) {
        self.written += 1;
        match &mut self.cols[i] {
            Col::Bool { values, nulls } => {
                values.append(v);
                nulls.append_non_null();
            }
            _ => unreachable!("column {i} is not Bool"),
        }
    }

    /// Whether column `i` already has a value for the current row.
    #[inline]
    pub(crate) fn is_set(&self, i: usize) -> bool {
        self.cols[i].len() > self.rows
    }

    #[inline(always)]
    pub(crate) fn set_null(&mut self, i: usize) {
        self.written += 1;
        self.cols[i].push_null();
    }

    /// The rows that failed so far in this batch.
    pub(crate) fn failed(&self) -> usize {
        self.failures.len()
    }

    /// Drops what the parser wrote of the current row, so it can write the
    /// row again another way (a fast path that gave up). Not for map columns.
    pub(crate) fn restart_row(&mut self) {
        for col in &mut self.cols {
            col.truncate(self.rows);
        }
        self.written = 0;
    }

    /// Ends the current row: columns the parser did not reach are null, and
    /// `_error` gets the failure, if any. Returns the rendered error.
    #[inline(always)]
    pub(crate) fn end_row(&mut self, result: &Parsed) -> Option<&str> {
        self.rows += 1;
        if std::mem::take(&mut self.written) != self.cols.len() {
            self.fill_nulls();
        }
        debug_assert!(self.cols.iter().all(|c| c.len() == self.rows), "a parser wrote a column twice in one row");
        match result {
            Ok(()) => None,
            Err(failure) => Some(self.record_failure(failure)),
        }
    }

    /// Nulls in the columns the current row did not reach.
    #[inline(never)]
    fn fill_nulls(&mut self) {
        for col in &mut self.cols {
            if col.len() < self.rows {
                col.push_null();
            }
        }
    }

    /// The current row's failure into `_error`; its rendered message.
    #[inline(never)]
    fn record_failure(&mut self, failure: &Failure) -> &str {
        failure.render(&mut self.scratch);
        self.messages.push_str(&self.scratch);
        self.failures.push((self.rows - 1, self.messages.len()));
        &self.scratch
    }

    /// The `_error` column: null where a row parsed, else its message.
    fn finish_errors(&mut self) -> Result<StringArray, arrow_schema::ArrowError> {
        let failures = std::mem::take(&mut self.failures);
        let messages = std::mem::take(&mut self.messages);
        if failures.is_empty() {
            // Zeroed memory the system maps lazily: no page of it is written.
            return Ok(StringArray::new_null(self.rows));
        }
        let too_long =
            || arrow_schema::ArrowError::ComputeError(format!("the _error messages of one batch exceed 2 GiB ({} bytes)", messages.len()));
        let mut offsets: Vec<i32> = Vec::with_capacity(self.rows + 1);
        let mut valid = BooleanBufferBuilder::new(self.rows);
        offsets.push(0);
        let mut end = 0i32;
        for &(row, message_end) in &failures {
            // Rows before this failure (and after the last one) parsed: empty and null.
            valid.append_n(row + 1 - offsets.len(), false);
            offsets.resize(row + 1, end);
            end = i32::try_from(message_end).map_err(|_| too_long())?;
            valid.append(true);
            offsets.push(end);
        }
        valid.append_n(self.rows + 1 - offsets.len(), false);
        offsets.resize(self.rows + 1, end);
        let nulls = arrow_buffer::NullBuffer::new(valid.finish());
        Ok(StringArray::new(OffsetBuffer::new(ScalarBuffer::from(offsets)), Buffer::from_vec(messages.into_bytes()), Some(nulls)))
    }

    /// The output batch; `blocks` are the input buffers the views point at.
    pub(crate) fn finish(&mut self, blocks: &[Buffer], strings: StringOutput) -> Result<RecordBatch, arrow_schema::ArrowError> {
        let mut fields = Vec::with_capacity(self.cols.len() + 1);
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.cols.len() + 1);
        for (field, col) in self.fields.iter().zip(&mut self.cols) {
            let array = col.finish(blocks, strings)?;
            fields.push(field.clone().with_data_type(output_type(field.data_type(), strings)));
            arrays.push(array);
        }
        if let Some(order) = &self.order {
            fields = order.iter().map(|&j| fields[j].clone()).collect();
            arrays = order.iter().map(|&j| arrays[j].clone()).collect();
        }
        fields.push(Field::new(super::ERROR_COLUMN, DataType::Utf8, true));
        arrays.push(Arc::new(self.finish_errors()?));
        let schema: SchemaRef = Arc::new(Schema::new(fields));
        let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(self.rows));
        self.rows = 0;
        RecordBatch::try_new_with_options(schema, arrays, &options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `_error` is built from the failures alone at the end: every row must
    /// get its own message or null, whatever the pattern of failures.
    #[test]
    fn error_column_puts_each_message_at_its_row() {
        let mut state = 7u64;
        for case in 0..300 {
            let rows = case % 40;
            let mut cols = Columns::new(vec![Field::new("a", DataType::Utf8View, true)], 4);
            let mut want = Vec::new();
            for row in 0..rows {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let result = match (state >> 33) % [2, 5, 1000][case % 3] {
                    0 => Err(Failure::new("a", row, format!("bad row {row} ✗"))),
                    _ => Ok(()),
                };
                if row % 3 == 0 {
                    cols.set_null(0);
                }
                want.push(result.as_ref().err().map(|_| format!("a at byte {row}: bad row {row} ✗")));
                cols.end_row(&result);
            }
            let batch = cols.finish(&[], StringOutput::View).unwrap();
            let errors = batch.column(1).as_any().downcast_ref::<StringArray>().unwrap();
            let got: Vec<Option<String>> = errors.iter().map(|e| e.map(str::to_string)).collect();
            assert_eq!(got, want, "case {case}");
            assert_eq!(batch.column(0).null_count(), rows, "case {case}");
        }
    }

    /// Validity gives what arrow's NullBufferBuilder gives, through nulls
    /// coming first, late or never, and rows written again (truncated).
    #[test]
    fn validity_matches_arrows_null_builder() {
        let mut state = 9u64;
        let mut next = move |n: u64| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        for case in 0..500 {
            let (mut ours, mut arrows) = (Validity::new(case % 7), NullBufferBuilder::new(case % 7));
            let null_one_in = [2, 30, 1000, u64::MAX][case % 4];
            for _ in 0..next(300) {
                if next(20) == 0 {
                    let len = next(arrows.len() as u64 + 1) as usize;
                    ours.truncate(len);
                    arrows.truncate(len);
                } else if next(null_one_in) == 0 {
                    ours.push_null();
                    arrows.append_null();
                } else {
                    ours.push_valid();
                    arrows.append_non_null();
                }
            }
            let (ours, arrows) = (ours.finish(), arrows.finish());
            assert_eq!(
                ours.as_ref().map(|n| n.inner().iter().collect::<Vec<_>>()),
                arrows.as_ref().map(|n| n.inner().iter().collect::<Vec<_>>()),
                "case {case}"
            );
            assert_eq!(ours.map(|n| n.null_count()), arrows.map(|n| n.null_count()), "case {case}");
        }
    }

    #[test]
    fn views_are_the_cells_arrow_makes() {
        let text: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for len in 0..text.len() {
            let ctx = LineCtx { bytes: &text[..len], block: Some(3), offset: 1000, cut: None, masks: None };
            for start in 0..=len {
                for end in start..=len {
                    let value = &text[start..end];
                    let want = if value.len() <= 12 {
                        inline_view(value)
                    } else {
                        ByteView::new(value.len() as u32, &value[..4]).with_buffer_index(3).with_offset(1000 + start as u32).as_u128()
                    };
                    assert_eq!(ctx.view(start, end), want, "{len} {start}..{end}");
                }
            }
        }
    }

    #[test]
    fn inline_views_read_from_the_line_equal_copied_ones() {
        let text: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for len in 0..text.len() {
            let line = &text[..len];
            for start in 0..=len {
                for end in start..=len.min(start + 12) {
                    assert_eq!(inline_view_within(line, start, end), inline_view(&line[start..end]), "{len} {start}..{end}");
                }
            }
        }
    }
}
