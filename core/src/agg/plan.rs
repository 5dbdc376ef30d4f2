//! Planning: one accumulator per aggregation family and column, and the mapping of their outputs to the aggregation list.

use super::*;

// ---------------------------------------------------------------- planning

/// The accumulators for a list of aggregations, and where each output comes from.
pub(crate) struct AggPlan {
    pub accumulators: Vec<Box<dyn Accumulator>>,
    /// For each aggregation in spec order: (accumulator, output of that accumulator).
    pub outputs: Vec<(usize, usize)>,
    /// The output columns: the aggregations', or the state's after `emit_states`.
    pub fields: Vec<arrow_schema::Field>,
    /// `finish` and `finish_into` give each slot's state, not its aggregates.
    emits_states: bool,
}

impl AggPlan {
    /// The plan of `aggs` over inputs of `schema`, whose rows are ordered by `time`.
    pub fn new(schema: &Schema, aggs: &[AggExpr], time: &TimeColumn) -> Result<AggPlan> {
        let mut accumulators: Vec<Box<dyn Accumulator>> = Vec::new();
        let mut outputs = Vec::with_capacity(aggs.len());
        let mut fields = Vec::with_capacity(aggs.len());
        // Fused primitive stats: per column, the list of (agg index, output kind).
        let mut stats_by_column: Vec<(usize, Vec<(usize, StatOutput)>)> = Vec::new();
        let mut pending: Vec<Option<(usize, usize)>> = vec![None; aggs.len()];
        // count() rides along with fused stats when there are any.
        let mut row_counts: Vec<usize> = Vec::new();
        for (i, agg) in aggs.iter().enumerate() {
            let out_type = agg_output_type(schema, agg)?;
            // Counts are never null; every other aggregate is null for an all-null window.
            let nullable = !matches!(agg.func, AggFunc::Count | AggFunc::CountDistinct | AggFunc::ApproxCountDistinct);
            fields.push(arrow_schema::Field::new(agg.alias.clone(), out_type, nullable));
            let column = agg.column.as_deref().map(|c| column_index(schema, c)).transpose()?;
            let value_type = column.map(|c| schema.field(c).data_type().clone());
            let stat = match agg.func {
                AggFunc::Sum => Some(StatOutput::Sum),
                AggFunc::Mean => Some(StatOutput::Mean),
                AggFunc::Min => Some(StatOutput::Min),
                AggFunc::Max => Some(StatOutput::Max),
                _ => None,
            };
            if let (Some(stat), Some(c), Some(t)) = (stat, column, value_type.as_ref()) {
                let probe = primitive_stats(c, "", t, vec![stat]);
                if probe.is_some() {
                    match stats_by_column.iter_mut().find(|(col, _)| *col == c) {
                        Some((_, list)) => list.push((i, stat)),
                        None => stats_by_column.push((c, vec![(i, stat)])),
                    }
                    continue;
                }
            }
            if (agg.func, column) == (AggFunc::Count, None) {
                row_counts.push(i);
                continue;
            }
            let numeric_func = !matches!(
                agg.func,
                AggFunc::Count | AggFunc::CountDistinct | AggFunc::ApproxCountDistinct | AggFunc::First | AggFunc::Last
            );
            let acc: Box<dyn Accumulator> = match (agg.func, column) {
                // A Null-typed column has no value to aggregate (its rows are
                // skipped like any null): the result is null in every window.
                (_, Some(_)) if value_type == Some(DataType::Null) && numeric_func && agg.by_column.is_none() => {
                    AllNull::accumulator(fields[i].data_type().clone())
                }
                (AggFunc::Count, Some(c)) => Count::accumulator(Some(c)),
                (AggFunc::Min | AggFunc::Max, Some(c)) => {
                    let t = value_type.clone().expect("column");
                    let rule = if agg.func == AggFunc::Min { PickRule::Smallest } else { PickRule::Largest };
                    Box::new(PickRow::new(c, Some(c), rule, t.clone(), Some(t), time)?)
                }
                (AggFunc::First | AggFunc::Last, Some(c)) => {
                    let rule = if agg.func == AggFunc::First { PickRule::First } else { PickRule::Last };
                    Box::new(PickRow::new(c, None, rule, value_type.clone().expect("column"), None, time)?)
                }
                (AggFunc::MinBy | AggFunc::MaxBy, Some(c)) => {
                    let by = column_index(schema, agg.by_column.as_deref().expect("parser guarantees by"))?;
                    let rule = if agg.func == AggFunc::MinBy { PickRule::Smallest } else { PickRule::Largest };
                    Box::new(PickRow::new(
                        c,
                        Some(by),
                        rule,
                        value_type.clone().expect("column"),
                        Some(schema.field(by).data_type().clone()),
                        time,
                    )?)
                }
                (AggFunc::Var | AggFunc::Std, Some(c)) => Variance::accumulator(c, agg.func == AggFunc::Std),
                (AggFunc::Median, Some(c)) => Quantile::<Vec<f64>>::accumulator(c, 0.5),
                (AggFunc::Quantile, Some(c)) => Quantile::<Vec<f64>>::accumulator(c, agg.q.expect("parser guarantees q")),
                (AggFunc::ApproxQuantile, Some(c)) => Quantile::<TDigest>::accumulator(c, agg.q.expect("parser guarantees q")),
                (AggFunc::CountDistinct, Some(c)) => Distinct::<HashSet<Box<[u8]>>>::accumulator(c, value_type.clone().expect("column"))?,
                (AggFunc::ApproxCountDistinct, Some(c)) => Distinct::<HyperLogLog>::accumulator(c, value_type.clone().expect("column"))?,
                (func, _) => return Err(SashError::spec(format!("{} needs a column", func.name()))),
            };
            accumulators.push(acc);
            pending[i] = Some((accumulators.len() - 1, 0));
        }
        match stats_by_column.first_mut() {
            Some((_, list)) => {
                list.extend(row_counts.iter().map(|&i| (i, StatOutput::Rows)));
                // Outputs in spec order (see `finish_into`).
                list.sort_by_key(|&(i, _)| i);
            }
            None => {
                for &i in &row_counts {
                    accumulators.push(Count::accumulator(None));
                    pending[i] = Some((accumulators.len() - 1, 0));
                }
            }
        }
        for (column, list) in stats_by_column {
            let field = schema.field(column);
            let kinds: Vec<StatOutput> = list.iter().map(|&(_, k)| k).collect();
            let acc = primitive_stats(column, field.name(), field.data_type(), kinds).expect("probed above");
            accumulators.push(acc);
            for (output, &(agg_index, _)) in list.iter().enumerate() {
                pending[agg_index] = Some((accumulators.len() - 1, output));
            }
        }
        outputs.extend(pending.into_iter().map(|p| p.expect("every aggregation is planned")));
        Ok(AggPlan { accumulators, outputs, fields, emits_states: false })
    }

    pub fn grow(&mut self, n: usize) {
        for acc in &mut self.accumulators {
            acc.grow(n);
        }
    }

    /// A new input begins, whose first row is at position `first` of the
    /// whole stream of rows: positions order rows of equal time when
    /// states of different inputs merge.
    pub fn begin_input(&mut self, batches: &[RecordBatch], first: u64) {
        let mut starts = Vec::with_capacity(batches.len());
        let mut at = first;
        for batch in batches {
            starts.push(at);
            at += batch.num_rows() as u64;
        }
        for acc in &mut self.accumulators {
            acc.begin_input(&starts);
        }
    }

    /// The columns of the state `state` exports: each accumulator's, prefixed `s{index}.`.
    pub fn state_fields(&self) -> Vec<Field> {
        self.accumulators.iter().enumerate().flat_map(|(a, acc)| acc.state_fields(&format!("s{a}."))).collect()
    }

    /// The bytes the states of `slots` take (see `Accumulator::state_bytes`).
    pub fn state_bytes(&self, slots: &[u32]) -> usize {
        self.accumulators.iter().map(|acc| acc.state_bytes(slots)).sum()
    }

    /// Whether `state_bytes` is the same for every slot, whatever it holds.
    pub fn has_fixed_size_states(&self) -> bool {
        self.accumulators.iter().all(|acc| acc.has_fixed_size_states())
    }

    /// What `state_bytes` counts beyond every slot's fixed part.
    pub fn variable_state_bytes(&self, slots: &[u32]) -> usize {
        self.accumulators.iter().map(|acc| acc.state_bytes(slots) - acc.fixed_state_bytes() * slots.len()).sum()
    }

    /// The state of each slot in `slots`, one row per slot, columns as `state_fields`.
    pub fn state(&self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        let mut out = Vec::new();
        for acc in &self.accumulators {
            out.extend(acc.state(slots)?);
        }
        Ok(out)
    }

    /// Folds row i of `state` (columns as `state_fields`) into `slots[i]`.
    /// The columns' number, types and lengths are checked first, then every
    /// accumulator's values: a failed merge changes nothing.
    pub fn merge_state(&mut self, state: &[ArrayRef], slots: &[u32]) -> Result<()> {
        let fields = self.state_fields();
        if state.len() != fields.len() {
            return Err(corrupt_state(format!("{} columns where this plan has {}", state.len(), fields.len())));
        }
        for (array, field) in state.iter().zip(&fields) {
            if array.data_type() != field.data_type() || array.len() != slots.len() {
                return Err(corrupt_state(format!(
                    "column '{}' has type {} and {} rows, expected {} and {}",
                    field.name(),
                    array.data_type(),
                    array.len(),
                    field.data_type(),
                    slots.len()
                )));
            }
        }
        let widths: Vec<usize> = self.accumulators.iter().map(|acc| acc.state_fields("").len()).collect();
        let mut at = 0;
        for (acc, &width) in self.accumulators.iter().zip(&widths) {
            acc.check_state(&state[at..at + width], slots)?;
            at += width;
        }
        let mut at = 0;
        for (acc, &width) in self.accumulators.iter_mut().zip(&widths) {
            acc.merge_state(&state[at..at + width], slots);
            at += width;
        }
        Ok(())
    }

    /// Copies every value the slots refer to out of the input batches.
    pub fn detach(&mut self) -> Result<()> {
        for acc in &mut self.accumulators {
            acc.detach()?;
        }
        Ok(())
    }

    pub fn update(&mut self, batch_idx: usize, batch: &RecordBatch, rows: &Rows<'_>, slots: &[u32]) -> Result<()> {
        for acc in &mut self.accumulators {
            acc.update(batch_idx, batch, rows, slots)?;
        }
        Ok(())
    }

    pub fn merge_pairs(&mut self, pairs: &[(u32, u32)]) {
        for acc in &mut self.accumulators {
            acc.merge_pairs(pairs);
        }
    }

    pub fn merge_groups(&mut self, dst_base: u32, src_base: u32, groups: &[u32]) {
        for acc in &mut self.accumulators {
            acc.merge_groups(dst_base, src_base, groups);
        }
    }

    /// Whether some accumulator counts every row, so that
    /// `slots_with_rows` can tell which slots got rows.
    pub fn counts_every_row(&self) -> bool {
        self.accumulators.iter().any(|acc| acc.counts_every_row())
    }

    /// Replaces `out` with each g of `0..n`, ascending, whose slot `base + g`
    /// has rows; only when `counts_every_row`.
    pub fn slots_with_rows(&self, base: u32, n: u32, out: &mut Vec<u32>) {
        let counter = self.accumulators.iter().find(|acc| acc.counts_every_row()).expect("an accumulator counts every row");
        counter.slots_with_rows(base, n, out);
    }

    pub fn reset_all(&mut self, slots: &[u32]) {
        for acc in &mut self.accumulators {
            acc.reset_all(slots);
        }
    }

    /// From now on, `finish` and `finish_into` give each slot's state (the
    /// columns of `state_fields`, which become `fields`): an operator that
    /// emits through them then emits partial aggregates to merge elsewhere.
    pub fn emit_states(&mut self) {
        self.fields = self.state_fields();
        self.emits_states = true;
    }

    /// Appends one row per slot to each aggregation's builder (in spec order).
    pub fn finish_into(&mut self, slots: &[u32], builders: &mut [ColumnBuilder]) -> Result<()> {
        if self.emits_states {
            for (builder, array) in builders.iter_mut().zip(self.state(slots)?) {
                builder.append_array(array);
            }
            return Ok(());
        }
        for (a, acc) in self.accumulators.iter_mut().enumerate() {
            // An accumulator's outputs appear in spec order (see `new`).
            let mut mine: Vec<&mut ColumnBuilder> =
                builders.iter_mut().zip(&self.outputs).filter(|(_, &(owner, _))| owner == a).map(|(b, _)| b).collect();
            debug_assert!(self.outputs.iter().filter(|o| o.0 == a).map(|o| o.1).eq(0..mine.len()));
            acc.finish_into(slots, &mut mine)?;
        }
        Ok(())
    }

    /// One array per aggregation, in spec order.
    pub fn finish(&mut self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        if self.emits_states {
            return self.state(slots);
        }
        let mut per_acc = Vec::with_capacity(self.accumulators.len());
        for acc in &mut self.accumulators {
            per_acc.push(acc.finish(slots)?);
        }
        Ok(self.outputs.iter().map(|&(a, o)| per_acc[a][o].clone()).collect())
    }
}
