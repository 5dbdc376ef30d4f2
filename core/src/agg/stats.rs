//! `sum`, `mean`, `min`, `max` and `count(col)` of primitive columns: one pass, one state per slot for all of them.

use super::*;

// ---------------------------------------------------------------- sum, mean, min, max, count(col) on primitives

/// A primitive value type with the order sash uses (NaN above +inf) and a sum type.
pub(crate) trait Native: Copy + Send + 'static {
    type Sum: Copy + Send + Default + 'static;
    /// The identities of min and max under sash's order.
    const MIN_IDENTITY: Self;
    const MAX_IDENTITY: Self;
    /// The smaller/larger of two values under sash's order, without branches:
    /// the next row of a small group is a new extreme about half the time,
    /// which a predicted branch gets wrong.
    fn min_of(a: Self, b: Self) -> Self;
    fn max_of(a: Self, b: Self) -> Self;
    /// `min_of` and `max_of` when `b` is known not to be NaN: one
    /// instruction each for floats instead of five (a NaN `a`, the min
    /// identity or a sticky max, still behaves as in `min_of`/`max_of`).
    #[inline(always)]
    fn min_of_number(a: Self, b: Self) -> Self {
        Self::min_of(a, b)
    }
    #[inline(always)]
    fn max_of_number(a: Self, b: Self) -> Self {
        Self::max_of(a, b)
    }
    /// `min_of_number` and `max_of_number` when `b` is also known not to be
    /// a zero: one instruction each for floats (no sign of zero to settle).
    #[inline(always)]
    fn min_of_nonzero(a: Self, b: Self) -> Self {
        Self::min_of_number(a, b)
    }
    #[inline(always)]
    fn max_of_nonzero(a: Self, b: Self) -> Self {
        Self::max_of_number(a, b)
    }
    /// What `values` hold that the extremes must handle: whether any is NaN,
    /// and whether any is a zero (never either, for integers).
    fn nan_or_zero(_values: &[Self]) -> Special {
        Special::Neither
    }
    fn add(sum: Self::Sum, v: Self) -> Self::Sum;
    fn add_sums(a: Self::Sum, b: Self::Sum) -> Self::Sum;
    fn sum_to_f64(sum: Self::Sum) -> f64;
    /// The type of sums in an exported state: the exact running sum, which
    /// for integers is wider than any output type.
    fn sum_state_type() -> DataType;
    fn sums_to_state(sums: Vec<Self::Sum>) -> ArrayRef;
    fn sums_of_state(state: &ArrayRef) -> &[Self::Sum];
}

/// What an update's values hold that min and max must handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Special {
    /// A NaN (and maybe zeros): the full tests.
    Nan,
    /// A zero, no NaN: the sign of equal zeros to settle.
    Zero,
    /// Neither: one instruction per extreme.
    Neither,
}

/// How `fold` takes the extremes of a value, by what the update's values hold.
const ANY_VALUE: u8 = 0;
const NOT_NAN: u8 = 1;
const NOT_NAN_OR_ZERO: u8 = 2;

/// Integer and decimal running sums are i128, exported as Decimal128(38, 0) bits.
macro_rules! i128_sum_state {
    () => {
        fn sum_state_type() -> DataType {
            DataType::Decimal128(38, 0)
        }
        fn sums_to_state(sums: Vec<i128>) -> ArrayRef {
            Arc::new(PrimitiveArray::<Decimal128Type>::from(sums).with_data_type(DataType::Decimal128(38, 0)))
        }
        fn sums_of_state(state: &ArrayRef) -> &[i128] {
            state.as_primitive::<Decimal128Type>().values()
        }
    };
}

macro_rules! int_native {
    ($($t:ty),*) => {$(
        impl Native for $t {
            type Sum = i128;
            const MIN_IDENTITY: Self = <$t>::MAX;
            const MAX_IDENTITY: Self = <$t>::MIN;
            #[inline(always)]
            fn min_of(a: Self, b: Self) -> Self { a.min(b) }
            #[inline(always)]
            fn max_of(a: Self, b: Self) -> Self { a.max(b) }
            #[inline(always)]
            fn add(sum: i128, v: Self) -> i128 { sum.wrapping_add(v as i128) }
            #[inline(always)]
            fn add_sums(a: i128, b: i128) -> i128 { a.wrapping_add(b) }
            fn sum_to_f64(sum: i128) -> f64 { sum as f64 }
            i128_sum_state!();
        }
    )*};
}
int_native!(i8, i16, i32, i64, u8, u16, u32, u64);

impl Native for i128 {
    type Sum = i128;
    const MIN_IDENTITY: Self = i128::MAX;
    const MAX_IDENTITY: Self = i128::MIN;
    fn min_of(a: Self, b: Self) -> Self {
        a.min(b)
    }
    fn max_of(a: Self, b: Self) -> Self {
        a.max(b)
    }
    // Decimal sums saturate to the extremes, which finish() reports as overflow.
    fn add(sum: i128, v: Self) -> i128 {
        sum.saturating_add(v)
    }
    fn add_sums(a: i128, b: i128) -> i128 {
        a.saturating_add(b)
    }
    fn sum_to_f64(sum: i128) -> f64 {
        sum as f64
    }
    i128_sum_state!();
}

macro_rules! float_native {
    ($($t:ty),*) => {$(
        impl Native for $t {
            type Sum = f64;
            const MIN_IDENTITY: Self = <$t>::NAN;
            const MAX_IDENTITY: Self = <$t>::NEG_INFINITY;
            /// Ignores a NaN, which is exactly "NaN is the largest"; of the
            /// two zeros -0.0 is the smaller, so the result never depends on
            /// the order values come in (nor on how partial states merge).
            #[inline(always)]
            fn min_of(a: Self, b: Self) -> Self {
                let m = if a < b || b.is_nan() { a } else { b };
                negative_zero_wins(m, a, b)
            }
            #[inline(always)]
            fn max_of(a: Self, b: Self) -> Self {
                let larger = if b > a { b } else { a };
                if a.is_nan() || b.is_nan() { <$t>::NAN } else { positive_zero_wins(larger, a, b) }
            }
            // A NaN `a` (the identity) loses to `b`, as in `min_of`.
            #[inline(always)]
            fn min_of_number(a: Self, b: Self) -> Self {
                negative_zero_wins(if a < b { a } else { b }, a, b)
            }
            // A NaN `a` (a NaN seen before) stays, as in `max_of`.
            #[inline(always)]
            fn max_of_number(a: Self, b: Self) -> Self {
                positive_zero_wins(if b > a { b } else { a }, a, b)
            }
            // Equal values that are not zeros have the same bits: nothing to settle.
            #[inline(always)]
            fn min_of_nonzero(a: Self, b: Self) -> Self {
                if a < b { a } else { b }
            }
            #[inline(always)]
            fn max_of_nonzero(a: Self, b: Self) -> Self {
                if b > a { b } else { a }
            }
            fn nan_or_zero(values: &[Self]) -> Special {
                // Whole chunks without an early exit, so the tests vectorize.
                let (mut nan, mut zero) = (false, false);
                for chunk in values.chunks(256) {
                    let (n, z) = chunk.iter().fold((false, false), |(n, z), v| (n | v.is_nan(), z | (*v == 0.0)));
                    (nan, zero) = (nan | n, zero | z);
                    if nan {
                        return Special::Nan;
                    }
                }
                if zero { Special::Zero } else { Special::Neither }
            }
            #[inline(always)]
            fn add(sum: f64, v: Self) -> f64 { sum + v as f64 }
            #[inline(always)]
            fn add_sums(a: f64, b: f64) -> f64 { a + b }
            fn sum_to_f64(sum: f64) -> f64 { sum }
            fn sum_state_type() -> DataType { DataType::Float64 }
            fn sums_to_state(sums: Vec<f64>) -> ArrayRef { Arc::new(Float64Array::from(sums)) }
            fn sums_of_state(state: &ArrayRef) -> &[f64] { state.as_primitive::<Float64Type>().values() }
        }
    )*};
}
float_native!(f32, f64);

/// Float bits as an unsigned integer of their width.
trait FloatBits: Copy {
    type Bits: Copy + std::ops::BitOr<Output = Self::Bits> + std::ops::BitAnd<Output = Self::Bits>;
    const NONE: Self::Bits;
    const ALL: Self::Bits;
    fn bits(self) -> Self::Bits;
    fn of_bits(bits: Self::Bits) -> Self;
}

macro_rules! float_bits {
    ($($t:ty => $u:ty),*) => {$(
        impl FloatBits for $t {
            type Bits = $u;
            const NONE: $u = 0;
            const ALL: $u = <$u>::MAX;
            #[inline(always)]
            fn bits(self) -> $u { self.to_bits() }
            #[inline(always)]
            fn of_bits(bits: $u) -> Self { <$t>::from_bits(bits) }
        }
    )*};
}
float_bits!(f32 => u32, f64 => u64);

/// `m`, the smaller of equal `a` and `b` being -0.0 when either is: equal
/// values differ at most in the sign of zero, so or-ing their bits picks
/// -0.0 and changes nothing else. Branchless, like the comparisons.
#[inline(always)]
fn negative_zero_wins<F: FloatBits + PartialEq>(m: F, a: F, b: F) -> F {
    let tie = if a == b { a.bits() } else { F::NONE };
    F::of_bits(m.bits() | tie)
}

/// `m`, the larger of equal `a` and `b` being 0.0 when either is.
#[inline(always)]
fn positive_zero_wins<F: FloatBits + PartialEq>(m: F, a: F, b: F) -> F {
    let tie = if a == b { b.bits() } else { F::ALL };
    F::of_bits(m.bits() & tie)
}

#[derive(Clone, Copy)]
struct Stat<N: Native> {
    count: i64,
    sum: N::Sum,
    min: N,
    max: N,
}

impl<N: Native> Stat<N> {
    fn empty() -> Self {
        Stat { count: 0, sum: N::Sum::default(), min: N::MIN_IDENTITY, max: N::MAX_IDENTITY }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StatOutput {
    Count,
    /// Rows, null or not: `count()`.
    Rows,
    Sum,
    Mean,
    Min,
    Max,
}

/// count/sum/mean/min/max of one primitive column, computed in one pass.
struct PrimitiveStats<T: ArrowPrimitiveType>
where
    T::Native: Native,
{
    column: usize,
    column_name: String,
    data_type: DataType,
    outputs: Vec<StatOutput>,
    states: Vec<Stat<T::Native>>,
    /// Per slot, its rows whose value is null, kept apart (states stay 32
    /// bytes for f64) and only for `count()`, which is `count + nulls`: so
    /// a `count()` next to stats of a column costs no pass of its own.
    nulls: Vec<i64>,
}

impl<T: ArrowPrimitiveType> PrimitiveStats<T>
where
    T::Native: Native,
{
    fn rows(&self, slot: usize) -> i64 {
        // Saturating: only a corrupt merged state could hold more rows than i64.
        self.states[slot].count.saturating_add(self.nulls[slot])
    }

    fn fold_range<const MIN: bool, const MAX: bool>(states: &mut [Stat<T::Native>], values: &[T::Native], slots: &[u32]) {
        debug_assert_eq!(values.len(), slots.len());
        // A pass over values about to be read anyway (in the cache) spares
        // every row the NaN tests of its min and max (a third of the loop),
        // and the settling of the sign of equal zeros when there are none.
        let special = if MIN || MAX { T::Native::nan_or_zero(values) } else { Special::Neither };
        match special {
            Special::Neither => {
                for (&v, &slot) in values.iter().zip(slots) {
                    Self::fold::<NOT_NAN_OR_ZERO>(&mut states[slot as usize], v, MIN, MAX);
                }
            }
            Special::Zero => {
                for (&v, &slot) in values.iter().zip(slots) {
                    Self::fold::<NOT_NAN>(&mut states[slot as usize], v, MIN, MAX);
                }
            }
            Special::Nan => {
                for (&v, &slot) in values.iter().zip(slots) {
                    Self::fold::<ANY_VALUE>(&mut states[slot as usize], v, MIN, MAX);
                }
            }
        }
    }

    fn merge_each(&mut self, pairs: impl Iterator<Item = (u32, u32)> + Clone) {
        // Extremes nobody asked for are not merged.
        let want_min = self.outputs.contains(&StatOutput::Min);
        let want_max = self.outputs.contains(&StatOutput::Max);
        let states = &mut self.states;
        for (dst, src) in pairs.clone() {
            let s = states[src as usize];
            let d = &mut states[dst as usize];
            d.count += s.count;
            d.sum = T::Native::add_sums(d.sum, s.sum);
            if want_min {
                d.min = T::Native::min_of(d.min, s.min);
            }
            if want_max {
                d.max = T::Native::max_of(d.max, s.max);
            }
        }
        if !self.nulls.is_empty() {
            for (dst, src) in pairs {
                self.nulls[dst as usize] += self.nulls[src as usize];
            }
        }
    }

    /// Adds `v` to `st`; `KNOWN` says what `v` is known not to be
    /// (`ANY_VALUE`, `NOT_NAN`, `NOT_NAN_OR_ZERO`), which spares the
    /// extremes the tests it makes needless.
    #[inline(always)]
    fn fold<const KNOWN: u8>(st: &mut Stat<T::Native>, v: T::Native, want_min: bool, want_max: bool) {
        st.count += 1;
        st.sum = T::Native::add(st.sum, v);
        if want_min {
            st.min = match KNOWN {
                NOT_NAN_OR_ZERO => T::Native::min_of_nonzero(st.min, v),
                NOT_NAN => T::Native::min_of_number(st.min, v),
                _ => T::Native::min_of(st.min, v),
            };
        }
        if want_max {
            st.max = match KNOWN {
                NOT_NAN_OR_ZERO => T::Native::max_of_nonzero(st.max, v),
                NOT_NAN => T::Native::max_of_number(st.max, v),
                _ => T::Native::max_of(st.max, v),
            };
        }
    }
}

impl<T: ArrowPrimitiveType> Accumulator for PrimitiveStats<T>
where
    T::Native: Native,
    PrimitiveStats<T>: StatFinish,
{
    fn grow(&mut self, n: usize) {
        self.states.resize(n, Stat::empty());
        if self.outputs.contains(&StatOutput::Rows) {
            self.nulls.resize(n, 0);
        }
    }
    fn update(&mut self, _: usize, batch: &RecordBatch, rows: &Rows<'_>, slots: &[u32]) -> Result<()> {
        let array = batch.column(self.column).as_primitive::<T>();
        let values = array.values();
        let want_min = self.outputs.contains(&StatOutput::Min);
        let want_max = self.outputs.contains(&StatOutput::Max);
        let states = &mut self.states;
        let null_rows = &mut self.nulls;
        let count_nulls = !null_rows.is_empty();
        match (array.nulls(), rows) {
            // The hot case gets a loop per (min, max) choice, over zipped
            // slices: no per-row test of what is wanted, no index checks.
            (None, Rows::Range(r)) => match (want_min, want_max) {
                (true, true) => Self::fold_range::<true, true>(states, &values[r.clone()], slots),
                (true, false) => Self::fold_range::<true, false>(states, &values[r.clone()], slots),
                (false, true) => Self::fold_range::<false, true>(states, &values[r.clone()], slots),
                (false, false) => Self::fold_range::<false, false>(states, &values[r.clone()], slots),
            },
            (None, _) => for_rows!(rows, slots, |slot, row| {
                Self::fold::<ANY_VALUE>(&mut states[slot], values[row], want_min, want_max);
            }),
            (Some(nulls), _) => for_rows!(rows, slots, |slot, row| {
                if nulls.is_valid(row) {
                    Self::fold::<ANY_VALUE>(&mut states[slot], values[row], want_min, want_max);
                } else if count_nulls {
                    null_rows[slot] += 1;
                }
            }),
        }
        Ok(())
    }
    fn merge(&mut self, dst: usize, src: usize) {
        self.merge_pairs(&[(dst as u32, src as u32)]);
    }
    fn state_fields(&self, prefix: &str) -> Vec<Field> {
        let mut fields = vec![
            Field::new(format!("{prefix}count"), DataType::Int64, false),
            Field::new(format!("{prefix}sum"), T::Native::sum_state_type(), false),
            Field::new(format!("{prefix}min"), self.data_type.clone(), true),
            Field::new(format!("{prefix}max"), self.data_type.clone(), true),
        ];
        if self.outputs.contains(&StatOutput::Rows) {
            fields.push(Field::new(format!("{prefix}nulls"), DataType::Int64, false));
        }
        fields
    }
    fn state(&self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        let valid = validity_of(&self.states, slots);
        let states = || slots.iter().map(|&s| &self.states[s as usize]);
        // An extreme no output asks for is not tracked (its slots keep the
        // identity): its state is null rather than a sentinel out of the
        // type's range (a decimal's precision, say) that a consumer would reject.
        let extremes = |pick: fn(&Stat<T::Native>) -> T::Native, output: StatOutput| -> ArrayRef {
            if !self.outputs.contains(&output) {
                return new_null_array(&self.data_type, slots.len());
            }
            Arc::new(PrimitiveArray::<T>::new(states().map(pick).collect(), valid.clone()).with_data_type(self.data_type.clone()))
        };
        let mut out = vec![
            Arc::new(Int64Array::from_iter_values(states().map(|s| s.count))) as ArrayRef,
            T::Native::sums_to_state(states().map(|s| s.sum).collect()),
            extremes(|s| s.min, StatOutput::Min),
            extremes(|s| s.max, StatOutput::Max),
        ];
        if self.outputs.contains(&StatOutput::Rows) {
            out.push(count_state(&self.nulls, slots));
        }
        Ok(out)
    }
    fn check_state(&self, state: &[ArrayRef], slots: &[u32]) -> Result<()> {
        let value_counts: Vec<i64> = self.states.iter().map(|s| s.count).collect();
        check_count_state(&value_counts, &state[0], slots)?;
        let counts = state[0].as_primitive::<Int64Type>().values();
        for (column, output) in [(2, StatOutput::Min), (3, StatOutput::Max)] {
            if self.outputs.contains(&output) && (0..slots.len()).any(|i| counts[i] > 0 && state[column].is_null(i)) {
                return Err(corrupt_state(format!("a {output:?} missing where values were counted")));
            }
        }
        if self.outputs.contains(&StatOutput::Rows) {
            check_count_state(&self.nulls, &state[4], slots)?;
            let nulls = state[4].as_primitive::<Int64Type>().values();
            if let Some(i) = (0..slots.len()).find(|&i| counts[i].checked_add(nulls[i]).is_none()) {
                return Err(corrupt_state(format!("{} values and {} nulls in one window", counts[i], nulls[i])));
            }
        }
        Ok(())
    }
    fn merge_state(&mut self, state: &[ArrayRef], slots: &[u32]) {
        let counts = state[0].as_primitive::<Int64Type>().values();
        let sums = T::Native::sums_of_state(&state[1]);
        let mins = state[2].as_primitive::<T>().values();
        let maxes = state[3].as_primitive::<T>().values();
        for (i, &slot) in slots.iter().enumerate() {
            if counts[i] == 0 {
                continue;
            }
            let d = &mut self.states[slot as usize];
            d.count += counts[i];
            d.sum = T::Native::add_sums(d.sum, sums[i]);
            d.min = T::Native::min_of(d.min, mins[i]);
            d.max = T::Native::max_of(d.max, maxes[i]);
        }
        if self.outputs.contains(&StatOutput::Rows) {
            merge_count_state(&mut self.nulls, &state[4], slots);
        }
    }
    fn counts_every_row(&self) -> bool {
        self.outputs.contains(&StatOutput::Rows)
    }
    fn slots_with_rows(&self, base: u32, n: u32, out: &mut Vec<u32>) {
        nonzero_rows(n, |g| self.rows((base + g) as usize), out);
    }
    fn merge_pairs(&mut self, pairs: &[(u32, u32)]) {
        self.merge_each(pairs.iter().copied());
    }
    fn merge_groups(&mut self, dst_base: u32, src_base: u32, groups: &[u32]) {
        self.merge_each(groups.iter().map(|&g| (dst_base + g, src_base + g)));
    }
    fn reset(&mut self, slot: usize) {
        self.states[slot] = Stat::empty();
        if let Some(nulls) = self.nulls.get_mut(slot) {
            *nulls = 0;
        }
    }
    fn finish(&mut self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        let valid = validity_of(&self.states, slots);
        let mut out = Vec::with_capacity(self.outputs.len());
        for output in self.outputs.clone() {
            let states = slots.iter().map(|&s| &self.states[s as usize]);
            let array: ArrayRef = match output {
                StatOutput::Count => Arc::new(Int64Array::from_iter_values(states.map(|s| s.count))),
                StatOutput::Rows => Arc::new(Int64Array::from_iter_values(slots.iter().map(|&s| self.rows(s as usize)))),
                StatOutput::Mean => Arc::new(Float64Array::new(states.map(|s| self.mean(s)).collect(), valid.clone())),
                StatOutput::Min | StatOutput::Max => {
                    let values: Vec<T::Native> = states.map(|s| if output == StatOutput::Min { s.min } else { s.max }).collect();
                    Arc::new(PrimitiveArray::<T>::new(values.into(), valid.clone()).with_data_type(self.data_type.clone()))
                }
                StatOutput::Sum => self.sums(slots, valid.clone())?,
            };
            out.push(array);
        }
        Ok(out)
    }
    fn finish_into(&mut self, slots: &[u32], out: &mut [&mut ColumnBuilder]) -> Result<()> {
        let valid = validity_of(&self.states, slots);
        for (i, output) in self.outputs.clone().into_iter().enumerate() {
            let states = slots.iter().map(|&s| &self.states[s as usize]);
            let builder = &mut *out[i];
            match output {
                StatOutput::Count => builder.extend_values(&DataType::Int64, states.map(|s| s.count), None),
                StatOutput::Rows => builder.extend_values(&DataType::Int64, slots.iter().map(|&s| self.rows(s as usize)), None),
                StatOutput::Mean => builder.extend_values(&DataType::Float64, states.map(|s| self.mean(s)), valid.as_ref()),
                StatOutput::Min => builder.extend_values(&self.data_type, states.map(|s| s.min), valid.as_ref()),
                StatOutput::Max => builder.extend_values(&self.data_type, states.map(|s| s.max), valid.as_ref()),
                StatOutput::Sum => self.sums_into(slots, valid.as_ref(), builder)?,
            }
        }
        Ok(())
    }
}

/// Which of `slots` hold a value (a count above zero); None when all do,
/// the common case, found without building the bitmap.
fn validity_of<N: Native>(states: &[Stat<N>], slots: &[u32]) -> Option<NullBuffer> {
    if slots.iter().all(|&s| states[s as usize].count > 0) {
        return None;
    }
    Some(NullBuffer::from(slots.iter().map(|&s| states[s as usize].count > 0).collect::<Vec<_>>()))
}

/// The parts of finishing that differ between integer, float and decimal sums.
trait StatFinish {
    fn mean<N: Native>(&self, s: &Stat<N>) -> f64;
    fn sums(&self, slots: &[u32], valid: Option<NullBuffer>) -> Result<ArrayRef>;
    fn sums_into(&self, slots: &[u32], valid: Option<&NullBuffer>, out: &mut ColumnBuilder) -> Result<()> {
        out.append_array(self.sums(slots, valid.cloned())?);
        Ok(())
    }
}

macro_rules! int_finish {
    ($($t:ty),*) => {$(
        impl StatFinish for PrimitiveStats<$t> {
            fn mean<N: Native>(&self, s: &Stat<N>) -> f64 {
                if s.count == 0 { 0.0 } else { N::sum_to_f64(s.sum) / s.count as f64 }
            }
            fn sums(&self, slots: &[u32], valid: Option<NullBuffer>) -> Result<ArrayRef> {
                let mut values = Vec::with_capacity(slots.len());
                for &slot in slots {
                    let sum = self.states[slot as usize].sum;
                    values.push(i64::try_from(sum).map_err(|_| {
                        SashError::Overflow(format!("sum({}) does not fit Int64 ({sum})", self.column_name))
                    })?);
                }
                Ok(Arc::new(Int64Array::new(values.into(), valid)))
            }
        }
    )*};
}
int_finish!(
    Int8Type,
    Int16Type,
    Int32Type,
    Int64Type,
    UInt8Type,
    UInt16Type,
    UInt32Type,
    UInt64Type,
    Date32Type,
    Date64Type,
    TimestampSecondType,
    TimestampMillisecondType,
    TimestampMicrosecondType,
    TimestampNanosecondType
);

macro_rules! float_finish {
    ($($t:ty),*) => {$(
        impl StatFinish for PrimitiveStats<$t> {
            fn mean<N: Native>(&self, s: &Stat<N>) -> f64 {
                if s.count == 0 { 0.0 } else { N::sum_to_f64(s.sum) / s.count as f64 }
            }
            fn sums(&self, slots: &[u32], valid: Option<NullBuffer>) -> Result<ArrayRef> {
                Ok(Arc::new(Float64Array::new(
                    slots.iter().map(|&s| self.states[s as usize].sum).collect(),
                    valid,
                )))
            }
            fn sums_into(&self, slots: &[u32], valid: Option<&NullBuffer>, out: &mut ColumnBuilder) -> Result<()> {
                out.extend_values(&DataType::Float64, slots.iter().map(|&s| self.states[s as usize].sum), valid);
                Ok(())
            }
        }
    )*};
}
float_finish!(Float32Type, Float64Type);

impl StatFinish for PrimitiveStats<Decimal128Type> {
    fn mean<N: Native>(&self, s: &Stat<N>) -> f64 {
        let scale = match self.data_type {
            DataType::Decimal128(_, scale) => scale,
            _ => 0,
        };
        if s.count == 0 {
            0.0
        } else {
            N::sum_to_f64(s.sum) / 10f64.powi(scale as i32) / s.count as f64
        }
    }
    fn sums(&self, slots: &[u32], valid: Option<NullBuffer>) -> Result<ArrayRef> {
        let scale = match self.data_type {
            DataType::Decimal128(_, scale) => scale,
            _ => 0,
        };
        let limit = 10i128.pow(38);
        let mut values = Vec::with_capacity(slots.len());
        for &slot in slots {
            let sum = self.states[slot as usize].sum;
            if sum.abs() >= limit || sum == i128::MIN {
                return Err(SashError::Overflow(format!("sum({}) does not fit Decimal128(38, {scale})", self.column_name)));
            }
            values.push(sum);
        }
        Ok(Arc::new(PrimitiveArray::<Decimal128Type>::new(values.into(), valid).with_data_type(DataType::Decimal128(38, scale))))
    }
}

pub(super) fn primitive_stats(column: usize, name: &str, data_type: &DataType, outputs: Vec<StatOutput>) -> Option<Box<dyn Accumulator>> {
    macro_rules! make {
        ($t:ty) => {
            Box::new(PrimitiveStats::<$t> {
                column,
                column_name: name.to_string(),
                data_type: data_type.clone(),
                outputs,
                states: Vec::new(),
                nulls: Vec::new(),
            })
        };
    }
    let outputs_ok = |allowed: &[StatOutput]| outputs.iter().all(|o| allowed.contains(o));
    Some(match data_type {
        DataType::Int8 => make!(Int8Type),
        DataType::Int16 => make!(Int16Type),
        DataType::Int32 => make!(Int32Type),
        DataType::Int64 => make!(Int64Type),
        DataType::UInt8 => make!(UInt8Type),
        DataType::UInt16 => make!(UInt16Type),
        DataType::UInt32 => make!(UInt32Type),
        DataType::UInt64 => make!(UInt64Type),
        DataType::Float32 => make!(Float32Type),
        DataType::Float64 => make!(Float64Type),
        DataType::Decimal128(_, _) => make!(Decimal128Type),
        // Dates and timestamps only take min and max here; their storage is i32/i64.
        DataType::Date32 if outputs_ok(&[StatOutput::Min, StatOutput::Max, StatOutput::Count, StatOutput::Rows]) => make!(Date32Type),
        DataType::Date64 if outputs_ok(&[StatOutput::Min, StatOutput::Max, StatOutput::Count, StatOutput::Rows]) => make!(Date64Type),
        DataType::Timestamp(unit, _) if outputs_ok(&[StatOutput::Min, StatOutput::Max, StatOutput::Count, StatOutput::Rows]) => {
            match unit {
                arrow_schema::TimeUnit::Second => make!(TimestampSecondType),
                arrow_schema::TimeUnit::Millisecond => make!(TimestampMillisecondType),
                arrow_schema::TimeUnit::Microsecond => make!(TimestampMicrosecondType),
                arrow_schema::TimeUnit::Nanosecond => make!(TimestampNanosecondType),
            }
        }
        _ => return None,
    })
}
