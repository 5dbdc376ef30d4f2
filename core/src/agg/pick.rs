//! `first`, `last`, `min_by`, `max_by`, and `min`/`max` of non-primitive types: a value picked from one row, copied out of the input.

use super::*;

// ---------------------------------------------------------------- values by row reference: first, last, min_by, max_by, min/max of non-primitives

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PickRule {
    First,
    Last,
    /// The row whose ordering key is smallest (earliest row on ties).
    Smallest,
    Largest,
}

/// A picked row: where its value is (`PickRow::sources`) and where the row
/// stands in the order of all rows (time, then position in the input).
#[derive(Debug, Clone, Copy)]
struct Pick {
    source: u32,
    row: u32,
    time: i64,
    seq: u64,
}

impl Pick {
    fn before(&self, other: &Pick) -> bool {
        (self.time, self.seq) < (other.time, other.seq)
    }
}

/// Remembers one row per slot and emits its value at the end, for any type.
///
/// During a call a pick refers to a row of an input batch (no copy per
/// candidate); `detach` copies the picked values into the accumulator's own
/// array, and exported states carry the values themselves. Every pick
/// carries its row's time and position, so picks from different inputs
/// (partitions, threads, pushes of a stream) merge in any order.
pub(super) struct PickRow {
    column: usize,
    /// The ordering column, for Smallest/Largest.
    order_column: Option<usize>,
    rule: PickRule,
    converter: Option<RowConverter>,
    data_type: DataType,
    time: TimeColumn,
    /// Arrays picked values live in: 0 is the accumulator's own (filled by
    /// `detach`), then input columns and merged states.
    sources: Vec<ArrayRef>,
    /// Per batch of the current input: its entry in `sources`.
    batch_sources: Vec<Option<u32>>,
    /// Per batch of the current input: the position of its first row.
    batch_starts: Vec<u64>,
    picked: Vec<Option<Pick>>,
    keys: Vec<Option<Box<[u8]>>>,
}

impl PickRow {
    pub(super) fn new(
        column: usize,
        order_column: Option<usize>,
        rule: PickRule,
        data_type: DataType,
        order_type: Option<DataType>,
        time: &TimeColumn,
    ) -> Result<Self> {
        let converter = match order_type {
            Some(t) => Some(RowConverter::new(vec![SortField::new_with_options(t, SortOptions::default())])?),
            None => None,
        };
        Ok(PickRow {
            column,
            order_column,
            rule,
            converter,
            sources: vec![new_null_array(&data_type, 0)],
            data_type,
            time: time.clone(),
            batch_sources: Vec::new(),
            batch_starts: Vec::new(),
            picked: Vec::new(),
            keys: Vec::new(),
        })
    }

    /// The source of batch `batch_idx`'s values, added on first use.
    fn batch_source(&mut self, batch_idx: usize, batch: &RecordBatch) -> u32 {
        if self.batch_sources.len() <= batch_idx {
            self.batch_sources.resize(batch_idx + 1, None);
        }
        *self.batch_sources[batch_idx].get_or_insert_with(|| {
            self.sources.push(batch.column(self.column).clone());
            (self.sources.len() - 1) as u32
        })
    }

    /// Whether `candidate` (with order key `key`) replaces what `slot` holds.
    fn better(&self, slot: usize, candidate: &Pick, key: Option<&[u8]>) -> bool {
        let Some(current) = &self.picked[slot] else { return true };
        match self.rule {
            PickRule::First => candidate.before(current),
            PickRule::Last => current.before(candidate),
            PickRule::Smallest | PickRule::Largest => {
                let held = self.keys[slot].as_deref().expect("a pick by order has a key");
                let key = key.expect("a pick by order has a key");
                match key.cmp(held) {
                    std::cmp::Ordering::Equal => candidate.before(current),
                    order => (order == std::cmp::Ordering::Less) == (self.rule == PickRule::Smallest),
                }
            }
        }
    }

    /// The picked values of `slots` (null where nothing was picked).
    fn values(&self, slots: &[u32]) -> Result<ArrayRef> {
        // Source 0 of the interleave is a one-row null array for slots that picked nothing.
        let null_source = new_null_array(&self.data_type, 1);
        let mut sources: Vec<&dyn Array> = vec![null_source.as_ref()];
        sources.extend(self.sources.iter().map(|a| a.as_ref()));
        let indices: Vec<(usize, usize)> = slots
            .iter()
            .map(|&s| match self.picked[s as usize] {
                Some(p) => (p.source as usize + 1, p.row as usize),
                None => (0, 0),
            })
            .collect();
        Ok(interleave(&sources, &indices)?)
    }
}

/// The bytes of row `row`'s value beyond its type's fixed width (strings and binaries).
fn value_len(array: &dyn Array, row: usize) -> usize {
    match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(row).len(),
        DataType::LargeUtf8 => array.as_string::<i64>().value(row).len(),
        DataType::Utf8View => array.as_string_view().value(row).len(),
        DataType::Binary => array.as_binary::<i32>().value(row).len(),
        DataType::LargeBinary => array.as_binary::<i64>().value(row).len(),
        DataType::BinaryView => array.as_binary_view().value(row).len(),
        _ => 0,
    }
}

impl Accumulator for PickRow {
    fn grow(&mut self, n: usize) {
        self.picked.resize(n, None);
        if self.converter.is_some() {
            self.keys.resize(n, None);
        }
    }
    fn begin_input(&mut self, batch_starts: &[u64]) {
        self.batch_sources.clear();
        self.batch_starts = batch_starts.to_vec();
    }
    fn update(&mut self, batch_idx: usize, batch: &RecordBatch, rows: &Rows<'_>, slots: &[u32]) -> Result<()> {
        let source = self.batch_source(batch_idx, batch);
        let start = self.batch_starts.get(batch_idx).copied().unwrap_or(0);
        let times = self.time.values(batch.column(self.time.index));
        let values = batch.column(self.column);
        let value_nulls = values.logical_nulls();
        let pick = |row: usize| Pick { source, row: row as u32, time: times[row], seq: start + row as u64 };
        match self.rule {
            PickRule::First | PickRule::Last => for_rows!(rows, slots, |slot, row| {
                if value_nulls.as_ref().is_none_or(|n| n.is_valid(row)) {
                    let candidate = pick(row);
                    if self.better(slot, &candidate, None) {
                        self.picked[slot] = Some(candidate);
                    }
                }
            }),
            PickRule::Smallest | PickRule::Largest => {
                let order = batch.column(self.order_column.expect("ordered pick has an order column"));
                let selected = rows.select(order)?;
                let order_nulls = selected.logical_nulls();
                let encoded = self.converter.as_ref().expect("ordered pick has a converter").convert_columns(&[selected])?;
                let mut i = 0usize;
                for_rows!(rows, slots, |slot, row| {
                    let k = i;
                    i += 1;
                    if order_nulls.as_ref().is_some_and(|n| n.is_null(k)) {
                        continue;
                    }
                    let key = encoded.row(k);
                    let candidate = pick(row);
                    if self.better(slot, &candidate, Some(key.as_ref())) {
                        self.keys[slot] = Some(key.as_ref().into());
                        self.picked[slot] = Some(candidate);
                    }
                });
            }
        }
        Ok(())
    }
    fn merge(&mut self, dst: usize, src: usize) {
        let Some(candidate) = self.picked[src] else { return };
        let key = self.keys.get(src).cloned().flatten();
        if self.better(dst, &candidate, key.as_deref()) {
            self.picked[dst] = Some(candidate);
            if self.converter.is_some() {
                self.keys[dst] = key;
            }
        }
    }
    fn state_fields(&self, prefix: &str) -> Vec<Field> {
        let mut fields = vec![Field::new(format!("{prefix}value"), self.data_type.clone(), true)];
        if self.converter.is_some() {
            fields.push(Field::new(format!("{prefix}order_key"), DataType::Binary, true));
        }
        fields.push(Field::new(format!("{prefix}time"), DataType::Int64, true));
        fields.push(Field::new(format!("{prefix}position"), DataType::Int64, true));
        fields
    }
    fn has_fixed_size_states(&self) -> bool {
        self.converter.is_none() && self.data_type.primitive_width().is_some()
    }
    fn state_bytes(&self, slots: &[u32]) -> usize {
        let mut bytes = self.fixed_state_bytes() * slots.len();
        for &slot in slots {
            if let Some(pick) = &self.picked[slot as usize] {
                bytes += value_len(self.sources[pick.source as usize].as_ref(), pick.row as usize);
            }
            bytes += self.keys.get(slot as usize).and_then(|k| k.as_ref()).map_or(0, |k| k.len());
        }
        bytes
    }
    fn state(&self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        let picks = || slots.iter().map(|&s| self.picked[s as usize]);
        let mut out = vec![self.values(slots)?];
        if self.converter.is_some() {
            out.push(Arc::new(slots.iter().map(|&s| self.keys[s as usize].as_deref()).collect::<BinaryArray>()));
        }
        out.push(Arc::new(picks().map(|p| p.map(|p| p.time)).collect::<Int64Array>()));
        // Positions are below 2^63 (they count rows), so Int64 holds them,
        // a type every Arrow consumer (Spark among them) reads.
        out.push(Arc::new(picks().map(|p| p.map(|p| p.seq as i64)).collect::<Int64Array>()));
        Ok(out)
    }
    fn check_state(&self, state: &[ArrayRef], _: &[u32]) -> Result<()> {
        let ordered = self.converter.is_some();
        let keys = ordered.then(|| state[1].as_binary::<i32>());
        let times = state[1 + usize::from(ordered)].as_primitive::<Int64Type>();
        let seqs = state[2 + usize::from(ordered)].as_primitive::<Int64Type>();
        for i in (0..times.len()).filter(|&i| times.is_valid(i)) {
            if seqs.is_null(i) || seqs.value(i) < 0 || keys.is_some_and(|k| k.is_null(i)) {
                return Err(corrupt_state("a pick without its position or order key".into()));
            }
        }
        Ok(())
    }
    fn merge_state(&mut self, state: &[ArrayRef], slots: &[u32]) {
        let ordered = self.converter.is_some();
        let keys = ordered.then(|| state[1].as_binary::<i32>());
        let times = state[1 + usize::from(ordered)].as_primitive::<Int64Type>();
        let seqs = state[2 + usize::from(ordered)].as_primitive::<Int64Type>();
        self.sources.push(state[0].clone());
        let source = (self.sources.len() - 1) as u32;
        for (i, &slot) in slots.iter().enumerate() {
            if times.is_null(i) {
                continue;
            }
            let key = keys.filter(|k| k.is_valid(i)).map(|k| k.value(i));
            let candidate = Pick { source, row: i as u32, time: times.value(i), seq: seqs.value(i) as u64 };
            if self.better(slot as usize, &candidate, key) {
                self.picked[slot as usize] = Some(candidate);
                if ordered {
                    self.keys[slot as usize] = key.map(Into::into);
                }
            }
        }
    }
    fn detach(&mut self) -> Result<()> {
        // Only picks from this call's inputs are copied, appended to the own
        // array, so that a stream's push copies what it picked, not every
        // value held; the array is rebuilt once most of it is values no
        // slot holds any more.
        let held = |s: &Option<Pick>| s.is_some();
        let foreign: Vec<u32> = (0..self.picked.len() as u32).filter(|&s| self.picked[s as usize].is_some_and(|p| p.source != 0)).collect();
        let live = self.picked.iter().filter(|p| held(p)).count();
        let own = self.sources[0].clone();
        if own.len() > 2 * live + 1024 {
            let all: Vec<u32> = (0..self.picked.len() as u32).filter(|&s| held(&self.picked[s as usize])).collect();
            let owned = self.values(&all)?;
            for (row, &slot) in all.iter().enumerate() {
                let pick = self.picked[slot as usize].as_mut().expect("live");
                (pick.source, pick.row) = (0, row as u32);
            }
            self.sources = vec![owned];
        } else if !foreign.is_empty() {
            let copied = self.values(&foreign)?;
            let owned = arrow_select::concat::concat(&[own.as_ref(), copied.as_ref()])?;
            for (i, &slot) in foreign.iter().enumerate() {
                let pick = self.picked[slot as usize].as_mut().expect("foreign");
                (pick.source, pick.row) = (0, (own.len() + i) as u32);
            }
            self.sources = vec![owned];
        } else {
            self.sources.truncate(1);
        }
        self.batch_sources.clear();
        Ok(())
    }
    fn reset(&mut self, slot: usize) {
        self.picked[slot] = None;
        if self.converter.is_some() {
            self.keys[slot] = None;
        }
    }
    fn finish(&mut self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.values(slots)?])
    }
}
