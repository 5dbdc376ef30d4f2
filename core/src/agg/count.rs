//! `count()`, `count(col)`, and any aggregation of a column of type Null.

use super::*;

// ---------------------------------------------------------------- count(), count(col)

/// `count()` (every row, `column` None) and `count(col)` (its non-null values).
pub(super) struct Count {
    column: Option<usize>,
    counts: Vec<i64>,
}

impl Count {
    pub(super) fn accumulator(column: Option<usize>) -> Box<dyn Accumulator> {
        Box::new(Count { column, counts: Vec::new() })
    }
}

impl Accumulator for Count {
    fn grow(&mut self, n: usize) {
        self.counts.resize(n, 0);
    }
    fn update(&mut self, _: usize, batch: &RecordBatch, rows: &Rows<'_>, slots: &[u32]) -> Result<()> {
        debug_assert_eq!(rows.len(), slots.len());
        match self.column.and_then(|c| batch.column(c).logical_nulls()) {
            None => {
                for &s in slots {
                    self.counts[s as usize] += 1;
                }
            }
            Some(nulls) => for_rows!(rows, slots, |slot, row| {
                self.counts[slot] += nulls.is_valid(row) as i64;
            }),
        }
        Ok(())
    }
    fn merge(&mut self, dst: usize, src: usize) {
        self.counts[dst] += self.counts[src];
    }
    fn state_fields(&self, prefix: &str) -> Vec<Field> {
        let name = if self.column.is_some() { "count" } else { "rows" };
        vec![Field::new(format!("{prefix}{name}"), DataType::Int64, false)]
    }
    fn state(&self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        Ok(vec![count_state(&self.counts, slots)])
    }
    fn check_state(&self, state: &[ArrayRef], slots: &[u32]) -> Result<()> {
        check_count_state(&self.counts, &state[0], slots)
    }
    fn merge_state(&mut self, state: &[ArrayRef], slots: &[u32]) {
        merge_count_state(&mut self.counts, &state[0], slots)
    }
    fn counts_every_row(&self) -> bool {
        self.column.is_none()
    }
    fn slots_with_rows(&self, base: u32, n: u32, out: &mut Vec<u32>) {
        nonzero_rows(n, |g| self.counts[(base + g) as usize], out);
    }
    fn reset(&mut self, slot: usize) {
        self.counts[slot] = 0;
    }
    fn finish(&mut self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        Ok(vec![Arc::new(Int64Array::from_iter_values(slots.iter().map(|&s| self.counts[s as usize])))])
    }
    fn finish_into(&mut self, slots: &[u32], out: &mut [&mut ColumnBuilder]) -> Result<()> {
        out[0].extend_values(&DataType::Int64, slots.iter().map(|&s| self.counts[s as usize]), None);
        Ok(())
    }
}

// ---------------------------------------------------------------- any aggregation of a Null-typed column

/// The result of sum, mean, min, ... over a column of type Null: null.
pub(super) struct AllNull {
    data_type: DataType,
}

impl AllNull {
    pub(super) fn accumulator(data_type: DataType) -> Box<dyn Accumulator> {
        Box::new(AllNull { data_type })
    }
}

impl Accumulator for AllNull {
    fn grow(&mut self, _: usize) {}
    fn update(&mut self, _: usize, _: &RecordBatch, _: &Rows<'_>, _: &[u32]) -> Result<()> {
        Ok(())
    }
    fn merge(&mut self, _: usize, _: usize) {}
    fn state_fields(&self, _: &str) -> Vec<Field> {
        Vec::new()
    }
    fn state(&self, _: &[u32]) -> Result<Vec<ArrayRef>> {
        Ok(Vec::new())
    }
    fn check_state(&self, _: &[ArrayRef], _: &[u32]) -> Result<()> {
        Ok(())
    }
    fn merge_state(&mut self, _: &[ArrayRef], _: &[u32]) {}
    fn reset(&mut self, _: usize) {}
    fn finish(&mut self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        Ok(vec![new_null_array(&self.data_type, slots.len())])
    }
}
