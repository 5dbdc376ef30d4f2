//! `var` and `std`: Welford moments per slot, merged with Chan et al.'s formula.

use super::*;

// ---------------------------------------------------------------- var, std

#[derive(Clone, Copy, Default)]
struct Moments {
    n: f64,
    mean: f64,
    m2: f64,
}

/// Welford's online variance, merged with Chan et al.'s formula.
pub(super) struct Variance {
    column: usize,
    std: bool,
    states: Vec<Moments>,
}

impl Variance {
    pub(super) fn accumulator(column: usize, std: bool) -> Box<dyn Accumulator> {
        Box::new(Variance { column, std, states: Vec::new() })
    }
}

impl Accumulator for Variance {
    fn grow(&mut self, n: usize) {
        self.states.resize(n, Moments::default());
    }
    fn update(&mut self, _: usize, batch: &RecordBatch, rows: &Rows<'_>, slots: &[u32]) -> Result<()> {
        let values = as_f64_array(&rows.select(batch.column(self.column))?)?;
        for (i, &slot) in slots.iter().enumerate() {
            if values.is_valid(i) {
                let x = values.value(i);
                let m = &mut self.states[slot as usize];
                m.n += 1.0;
                let delta = x - m.mean;
                m.mean += delta / m.n;
                m.m2 += delta * (x - m.mean);
            }
        }
        Ok(())
    }
    fn merge(&mut self, dst: usize, src: usize) {
        let b = self.states[src];
        let a = &mut self.states[dst];
        if b.n == 0.0 {
            return;
        }
        if a.n == 0.0 {
            *a = b;
            return;
        }
        let n = a.n + b.n;
        let delta = b.mean - a.mean;
        a.m2 += b.m2 + delta * delta * a.n * b.n / n;
        a.mean += delta * b.n / n;
        a.n = n;
    }
    fn state_fields(&self, prefix: &str) -> Vec<Field> {
        ["n", "mean", "m2"].iter().map(|part| Field::new(format!("{prefix}{part}"), DataType::Float64, false)).collect()
    }
    fn state(&self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        let column = |part: fn(&Moments) -> f64| -> ArrayRef {
            Arc::new(Float64Array::from_iter_values(slots.iter().map(|&s| part(&self.states[s as usize]))))
        };
        Ok(vec![column(|m| m.n), column(|m| m.mean), column(|m| m.m2)])
    }
    fn check_state(&self, state: &[ArrayRef], _: &[u32]) -> Result<()> {
        match state[0].as_primitive::<Float64Type>().values().iter().find(|n| !(**n >= 0.0 && n.fract() == 0.0)) {
            Some(n) => Err(corrupt_state(format!("a value count of {n}"))),
            None => Ok(()),
        }
    }
    fn merge_state(&mut self, state: &[ArrayRef], slots: &[u32]) {
        let [n, mean, m2] = [0, 1, 2].map(|i| state[i].as_primitive::<Float64Type>().values());
        // The merge formula works on two slots: the incoming state goes
        // into a spare slot past the end.
        let spare = self.states.len();
        self.states.push(Moments::default());
        for (i, &slot) in slots.iter().enumerate() {
            self.states[spare] = Moments { n: n[i], mean: mean[i], m2: m2[i] };
            self.merge(slot as usize, spare);
        }
        self.states.truncate(spare);
    }
    fn reset(&mut self, slot: usize) {
        self.states[slot] = Moments::default();
    }
    fn finish(&mut self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        let out: Float64Array = slots
            .iter()
            .map(|&s| {
                let m = self.states[s as usize];
                (m.n >= 2.0).then(|| {
                    let var = m.m2 / (m.n - 1.0);
                    if self.std {
                        var.sqrt()
                    } else {
                        var
                    }
                })
            })
            .collect();
        Ok(vec![Arc::new(out)])
    }
}
