//! The engine of session streams: the open sessions' states as one plain
//! Arrow batch (the two-phase format of `two_phase`). A push aggregates its
//! rows into session states (`window_agg_partial`), merges them into the
//! open ones (`window_agg_merge_states`, which joins sessions a row on time
//! bridges), and the watermark closes the sessions that end before it
//! (`window_agg_merge`).

use super::super::two_phase::{window_agg_merge, window_agg_merge_states, window_agg_partial};
use crate::error::{Result, SashError};
use crate::exec::time::TimeColumn;
use crate::spec::{WindowSpec, DROPPED_NULL_TIMES_KEY};
use arrow_array::{BooleanArray, RecordBatch};
use arrow_schema::SchemaRef;
use arrow_select::filter::filter_record_batch;

#[derive(Debug)]
pub(super) struct SessionEngine {
    schema: SchemaRef,
    time: TimeColumn,
    /// The open sessions' states, one row per (keys, session).
    open: RecordBatch,
}

impl SessionEngine {
    pub(super) fn new(schema: &SchemaRef, spec: &WindowSpec, time: TimeColumn) -> Result<SessionEngine> {
        let open = window_agg_merge_states(schema, spec, &[])?;
        Ok(SessionEngine { schema: schema.clone(), time, open })
    }

    /// Sessions from states a snapshot held (checked against the spec).
    pub(super) fn load(schema: &SchemaRef, spec: &WindowSpec, time: TimeColumn, states: RecordBatch) -> Result<SessionEngine> {
        let open = window_agg_merge_states(schema, spec, &[states])?;
        Ok(SessionEngine { schema: schema.clone(), time, open })
    }

    pub(super) fn open_states(&self) -> usize {
        self.open.num_rows()
    }

    pub(super) fn state_bytes(&self) -> usize {
        self.open.get_array_memory_size()
    }

    pub(super) fn states(&self) -> &RecordBatch {
        &self.open
    }

    /// The open sessions with the rows of `on_time` (their first at
    /// `first_position`) joined, and the null times they dropped; the
    /// engine itself is unchanged until `commit`.
    pub(super) fn fold(&self, spec: &WindowSpec, on_time: &RecordBatch, first_position: u64) -> Result<(RecordBatch, u64)> {
        let partial = window_agg_partial(&self.schema, std::slice::from_ref(on_time), spec, first_position)?;
        let dropped = dropped_null_times(&partial)?;
        let merged = window_agg_merge_states(&self.schema, spec, &[self.open.clone(), partial])?;
        Ok((merged, dropped))
    }

    /// Splits `states` into the sessions closed under `watermark` (every
    /// one with `all`), merged into results, and the ones still open.
    pub(super) fn split_closed(
        &self,
        spec: &WindowSpec,
        states: RecordBatch,
        watermark: Option<i64>,
        all: bool,
    ) -> Result<(RecordBatch, RecordBatch)> {
        let n_keys = spec.by.len();
        let ends = self.time.values(states.column(n_keys + 1)).into_owned();
        // A session ends at its last time + the gap: closed once W reaches that.
        let closed: Vec<bool> = ends.iter().map(|&end| all || watermark.is_some_and(|w| w >= end)).collect();
        let done = filter_record_batch(&states, &BooleanArray::from(closed.clone()))?;
        let open = filter_record_batch(&states, &closed.iter().map(|&c| Some(!c)).collect::<BooleanArray>())?;
        let emitted = window_agg_merge(&self.schema, spec, &[done])?;
        Ok((emitted, open))
    }

    pub(super) fn commit(&mut self, open: RecordBatch) {
        self.open = open;
    }
}

fn dropped_null_times(partial: &RecordBatch) -> Result<u64> {
    match partial.schema().metadata().get(DROPPED_NULL_TIMES_KEY) {
        Some(n) => n.parse().map_err(|_| SashError::InvalidInput(format!("invalid {DROPPED_NULL_TIMES_KEY}: {n}"))),
        None => Ok(0),
    }
}
