//! Output columns assembled across many `finish` calls.
//!
//! Window emission finishes closed windows a few thousand at a time, so that
//! their accumulator slots are reused and state stays as small as the open
//! windows. Each call appends to a [`ColumnBuilder`] per aggregation.
//! Accumulators whose outputs are fixed-width values write them straight
//! into the column's final buffer; any other output arrives as an array: the
//! first one is kept as it is (an output that fits one call is never
//! copied), later fixed-width ones are copied into one buffer as they arrive
//! (so each small array is freed at once instead of piling up until a final
//! concatenation that would briefly hold the output twice), and the rest are
//! concatenated at the end.

use crate::error::Result;
use arrow_array::{make_array, Array, ArrayRef};
use arrow_buffer::{ArrowNativeType, BooleanBufferBuilder, MutableBuffer, NullBuffer};
use arrow_data::ArrayData;
use arrow_schema::DataType;
use arrow_select::concat::concat;

pub(crate) struct ColumnBuilder {
    /// An upper bound of the rows this column will hold: fixed-width buffers
    /// reserve it up front, sparing the regrowth (and page faults of each
    /// larger copy). Pages never written are never resident, so a loose
    /// bound costs address space, not memory.
    bound: usize,
    state: State,
}

enum State {
    Empty,
    First(ArrayRef),
    Fixed(Fixed),
    Chunks(Vec<ArrayRef>),
}

struct Fixed {
    data_type: DataType,
    width: usize,
    values: MutableBuffer,
    /// Kept only once a null has been seen: until then every row is valid.
    validity: Option<BooleanBufferBuilder>,
    len: usize,
}

impl Fixed {
    fn new(data_type: DataType, width: usize, bound: usize) -> Fixed {
        Fixed { data_type, width, values: MutableBuffer::with_capacity(bound.saturating_mul(width)), validity: None, len: 0 }
    }

    fn append_validity(&mut self, n: usize, nulls: Option<&NullBuffer>) {
        match (nulls.filter(|n| n.null_count() > 0), &mut self.validity) {
            (None, None) => {}
            (None, Some(validity)) => validity.append_n(n, true),
            (Some(nulls), validity) => {
                let validity = validity.get_or_insert_with(|| {
                    let mut all_valid = BooleanBufferBuilder::new(self.len + n);
                    all_valid.append_n(self.len, true);
                    all_valid
                });
                validity.append_buffer(nulls.inner());
            }
        }
        self.len += n;
    }

    fn append_array(&mut self, array: &dyn Array) {
        let data = array.to_data();
        let (start, end) = (data.offset() * self.width, (data.offset() + data.len()) * self.width);
        self.values.extend_from_slice(&data.buffers()[0].as_slice()[start..end]);
        self.append_validity(data.len(), data.nulls());
    }

    fn finish(self) -> Result<ArrayRef> {
        let Fixed { data_type, mut values, validity, len, .. } = self;
        // Arrow aligns buffers to 64 bytes, beyond what the system allocator's
        // realloc keeps, so shrinking copies the whole column: only worth it
        // when much of the reservation is unused.
        if values.capacity() - values.len() > values.len() / 8 {
            values.shrink_to_fit();
        }
        let nulls = validity.map(|mut v| NullBuffer::new(v.finish())).filter(|n| n.null_count() > 0);
        Ok(make_array(ArrayData::builder(data_type).len(len).add_buffer(values.into()).nulls(nulls).build()?))
    }
}

impl ColumnBuilder {
    pub fn new(bound: usize) -> ColumnBuilder {
        ColumnBuilder { bound, state: State::Empty }
    }

    /// Appends the rows of `array`.
    pub fn append_array(&mut self, array: ArrayRef) {
        self.state = match std::mem::replace(&mut self.state, State::Empty) {
            State::Empty => State::First(array),
            State::First(first) => match first.data_type().primitive_width() {
                Some(width) => {
                    let mut fixed = Fixed::new(first.data_type().clone(), width, self.bound);
                    fixed.append_array(first.as_ref());
                    fixed.append_array(array.as_ref());
                    State::Fixed(fixed)
                }
                None => State::Chunks(vec![first, array]),
            },
            State::Fixed(mut fixed) => {
                fixed.append_array(array.as_ref());
                State::Fixed(fixed)
            }
            State::Chunks(mut chunks) => {
                chunks.push(array);
                State::Chunks(chunks)
            }
        };
    }

    /// Appends `values` of an Arrow type whose values are `T`, with `nulls`
    /// (None: all valid) covering exactly the values appended.
    pub fn extend_values<T: ArrowNativeType>(&mut self, data_type: &DataType, values: impl Iterator<Item = T>, nulls: Option<&NullBuffer>) {
        debug_assert_eq!(data_type.primitive_width(), Some(std::mem::size_of::<T>()));
        let mut fixed = match std::mem::replace(&mut self.state, State::Empty) {
            State::Empty => Fixed::new(data_type.clone(), std::mem::size_of::<T>(), self.bound),
            State::Fixed(fixed) => fixed,
            State::First(first) => {
                let mut fixed = Fixed::new(data_type.clone(), std::mem::size_of::<T>(), self.bound);
                fixed.append_array(first.as_ref());
                fixed
            }
            State::Chunks(_) => unreachable!("a fixed-width column never holds chunks"),
        };
        let before = fixed.values.len();
        fixed.values.extend(values);
        let appended = (fixed.values.len() - before) / fixed.width;
        debug_assert!(nulls.is_none_or(|n| n.len() == appended));
        fixed.append_validity(appended, nulls);
        self.state = State::Fixed(fixed);
    }

    pub fn is_empty(&self) -> bool {
        matches!(self.state, State::Empty)
    }

    /// The column; None when nothing was ever appended.
    pub fn finish(self) -> Result<Option<ArrayRef>> {
        Ok(match self.state {
            State::Empty => None,
            State::First(array) => Some(array),
            State::Fixed(fixed) => Some(fixed.finish()?),
            State::Chunks(chunks) => {
                let refs: Vec<&dyn Array> = chunks.iter().map(|a| a.as_ref()).collect();
                Some(concat(&refs)?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use arrow_array::Int64Array;
    use std::sync::Arc;

    fn collect(column: &ArrayRef) -> Vec<Option<i64>> {
        column.as_primitive::<Int64Type>().iter().collect()
    }

    #[test]
    fn arrays_and_values_append_in_order_with_their_nulls() {
        let mut builder = ColumnBuilder::new(4);
        builder.append_array(Arc::new(Int64Array::from(vec![Some(1), None])));
        builder.extend_values(&DataType::Int64, [3i64, 4].into_iter(), None);
        builder.extend_values(&DataType::Int64, [5i64, 6].into_iter(), Some(&NullBuffer::from(vec![false, true])));
        builder.append_array(Arc::new(Int64Array::from(vec![7, 8, 9]).slice(1, 2)));
        let column = builder.finish().unwrap().unwrap();
        assert_eq!(collect(&column), vec![Some(1), None, Some(3), Some(4), None, Some(6), Some(8), Some(9)]);
    }

    #[test]
    fn nulls_first_seen_late_mark_only_their_rows() {
        let mut builder = ColumnBuilder::new(0);
        builder.extend_values(&DataType::Int64, [1i64, 2].into_iter(), None);
        builder.extend_values(&DataType::Int64, [3i64].into_iter(), Some(&NullBuffer::from(vec![false])));
        builder.extend_values(&DataType::Int64, [4i64].into_iter(), None);
        let column = builder.finish().unwrap().unwrap();
        assert_eq!(collect(&column), vec![Some(1), Some(2), None, Some(4)]);
        assert_eq!(column.null_count(), 1);
    }

    #[test]
    fn a_single_array_is_kept_and_an_empty_builder_has_no_column() {
        let array: ArrayRef = Arc::new(Int64Array::from(vec![1, 2]));
        let mut builder = ColumnBuilder::new(2);
        builder.append_array(array.clone());
        let column = builder.finish().unwrap().unwrap();
        assert_eq!(column.to_data().buffers()[0].as_ptr(), array.to_data().buffers()[0].as_ptr());
        assert!(ColumnBuilder::new(2).finish().unwrap().is_none());
    }
}
