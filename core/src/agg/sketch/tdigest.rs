//! The t-digest for `approx_quantile`: a small, mergeable summary of a
//! distribution with accurate quantiles, most accurate in the tails.
//!
//! This is Dunning's *merging* t-digest (T. Dunning, O. Ertl, "Computing
//! extremely accurate quantiles using t-digests", 2019, arXiv:1902.04023; the
//! reference is `MergingDigest` in github.com/tdunning/t-digest): incoming
//! values are buffered, and a full buffer is sorted and merged with the
//! centroids in one pass that grows each centroid while it spans at most one
//! unit of the k₁ ("arcsine") scale function
//! `k(q) = δ/(2π) · asin(2q − 1)`, so centroids are small near q = 0 and 1.
//! As in the reference, the pass alternates direction to avoid a one-sided
//! bias, and never merges the first or last item (exact tails).
//!
//! Differences from the reference, and why:
//! - Until the buffer first fills (512 values for δ = 200) every value is kept
//!   and quantiles are exact, bit-for-bit equal to numpy's default `linear`
//!   method (position `h = (n − 1)·q`), like the exact `quantile`.
//! - NaN and ±∞ are counted apart, never stored in centroids (means would turn
//!   NaN): −∞ sorts first, then the finite values, +∞, and NaN on top.
//! - Between centroids the estimate is the reference's piecewise-linear
//!   interpolation between centroid centres (and the exact min / max at the
//!   ends), with centres placed at 0-based sample positions: a run of
//!   single-value centroids interpolates exactly like numpy.
//! - The k-limit `q(k(q₀) + 1)` is computed with an angle-addition identity
//!   and `sqrt` instead of `asin`/`sin`, so results do not depend on the
//!   platform's libm.

/// Values kept exactly before the first compression (at least δ).
const EXACT_MIN: usize = 512;

#[derive(Clone, Copy, Debug, PartialEq)]
struct Centroid {
    mean: f64,
    weight: f64,
}

/// Something that enters a merge pass: a raw value (weight 1) or a centroid.
trait Item: Copy {
    fn centroid(self) -> Centroid;
}

impl Item for f64 {
    #[inline]
    fn centroid(self) -> Centroid {
        Centroid { mean: self, weight: 1.0 }
    }
}

impl Item for Centroid {
    #[inline]
    fn centroid(self) -> Centroid {
        self
    }
}

/// A merging t-digest (k₁ scale, default compression δ = 200).
///
/// Memory: while exact, 8 bytes per value (≤ 4 KiB); afterwards at most
/// about δ centroids of 16 bytes plus a buffer of δ values (≤ ≈ 4.8 KiB for
/// δ = 200, typically less).
#[derive(Clone, Debug)]
pub struct TDigest {
    compression: f64,
    /// Sorted by mean; empty while exact.
    centroids: Vec<Centroid>,
    /// Finite values not yet merged; while exact, all finite values.
    buffer: Vec<f64>,
    /// True until the first compression.
    exact: bool,
    /// `buffer` is sorted (`f64::total_cmp`).
    sorted: bool,
    /// Direction of the next merge pass.
    backwards: bool,
    /// Finite values: total weight of `centroids` and `buffer`.
    finite: u64,
    neg_inf: u64,
    pos_inf: u64,
    nan: u64,
    /// Exact extremes of the finite values (±∞ while there are none).
    min: f64,
    max: f64,
}

impl Default for TDigest {
    fn default() -> Self {
        Self::new()
    }
}

impl TDigest {
    /// The bytes the digest holds.
    pub fn byte_size(&self) -> usize {
        self.centroids.len() * std::mem::size_of::<Centroid>() + self.buffer.len() * std::mem::size_of::<f64>()
    }

    /// An empty digest with compression δ = 200 (rank error well under 1%).
    pub fn new() -> Self {
        Self::with_compression(200.0)
    }

    /// An empty digest with compression δ, clamped to [10, 100000] (NaN: 10).
    /// Larger δ: more centroids (about δ), more accuracy, more memory.
    pub fn with_compression(compression: f64) -> Self {
        let compression = if compression >= 10.0 { compression.min(100_000.0) } else { 10.0 };
        TDigest {
            compression,
            centroids: Vec::new(),
            buffer: Vec::new(),
            exact: true,
            sorted: true,
            backwards: false,
            finite: 0,
            neg_inf: 0,
            pos_inf: 0,
            nan: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    /// The compression δ.
    pub fn compression(&self) -> f64 {
        self.compression
    }

    /// Number of values added (NaN and ±∞ included).
    pub fn count(&self) -> u64 {
        self.neg_inf + self.finite + self.pos_inf + self.nan
    }

    /// True when nothing has been added.
    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// True while every value is kept and quantiles are exact.
    pub fn is_exact(&self) -> bool {
        self.exact
    }

    /// Number of centroids (0 while exact; unmerged buffered values not counted).
    pub fn centroid_count(&self) -> usize {
        self.centroids.len()
    }

    /// Heap bytes held, for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.centroids.capacity() * std::mem::size_of::<Centroid>() + self.buffer.capacity() * std::mem::size_of::<f64>()
    }

    fn exact_limit(&self) -> usize {
        EXACT_MIN.max(self.compression.ceil() as usize)
    }

    fn buffer_limit(&self) -> usize {
        if self.exact {
            self.exact_limit()
        } else {
            self.compression.ceil() as usize
        }
    }

    /// Adds one value. NaN ranks above +∞.
    pub fn add(&mut self, x: f64) {
        if x.is_nan() {
            self.nan += 1;
        } else if x == f64::INFINITY {
            self.pos_inf += 1;
        } else if x == f64::NEG_INFINITY {
            self.neg_inf += 1;
        } else {
            if x.total_cmp(&self.min).is_lt() {
                self.min = x;
            }
            if x.total_cmp(&self.max).is_gt() {
                self.max = x;
            }
            self.push_finite(x);
        }
    }

    fn push_finite(&mut self, x: f64) {
        if self.buffer.len() >= self.buffer_limit() {
            self.flush();
        }
        self.buffer.push(x);
        self.finite += 1;
        self.sorted = false;
    }

    /// Merges the buffer into the centroids; the digest stops being exact.
    fn flush(&mut self) {
        let was_exact = self.exact;
        self.exact = false;
        if self.buffer.is_empty() {
            return;
        }
        let mut buffer = std::mem::take(&mut self.buffer);
        if !self.sorted {
            buffer.sort_unstable_by(f64::total_cmp);
        }
        self.merge_sorted(&buffer);
        buffer.clear();
        if was_exact {
            buffer.shrink_to(self.buffer_limit());
        }
        self.buffer = buffer;
        self.sorted = true;
    }

    /// One merge pass of the centroids with `incoming` (sorted by mean), whose
    /// weight `self.finite` already includes.
    fn merge_sorted<T: Item>(&mut self, incoming: &[T]) {
        let old = std::mem::take(&mut self.centroids);
        let n = old.len() + incoming.len();
        if n == 0 {
            return;
        }
        let total = self.finite as f64;
        // A centroid starting at rank fraction q₀ may grow up to
        // q(k(q₀) + 1) = (1 + sin(a + β)) / 2 with sin a = 2q₀ − 1 and
        // β = 2π/δ; past a + β ≥ π/2 (sin a ≥ cos β) there is no limit.
        let (sin_b, cos_b) = sin_cos(2.0 * std::f64::consts::PI / self.compression);
        let limit = |so_far: f64| -> f64 {
            let s = 2.0 * so_far / total - 1.0;
            if s >= cos_b {
                f64::INFINITY
            } else {
                total * 0.5 * (1.0 + s * cos_b + (1.0 - s * s).max(0.0).sqrt() * sin_b)
            }
        };
        let backwards = self.backwards;
        self.backwards = !backwards;
        let (mut i, mut j) = (0usize, 0usize);
        let mut next = || -> Centroid {
            if backwards {
                let (a, b) = (old.len() - i, incoming.len() - j);
                if b == 0 || (a > 0 && old[a - 1].mean >= incoming[b - 1].centroid().mean) {
                    i += 1;
                    old[a - 1]
                } else {
                    j += 1;
                    incoming[b - 1].centroid()
                }
            } else if j == incoming.len() || (i < old.len() && old[i].mean <= incoming[j].centroid().mean) {
                i += 1;
                old[i - 1]
            } else {
                j += 1;
                incoming[j - 1].centroid()
            }
        };
        let mut out = Vec::with_capacity(n.min(self.compression.ceil() as usize + 4));
        let mut cur = next();
        let mut so_far = 0.0;
        let mut w_limit = limit(0.0);
        for k in 1..n {
            let c = next();
            let proposed = cur.weight + c.weight;
            if k != 1 && k != n - 1 && so_far + proposed <= w_limit {
                // Weighted mean without forming a difference that could overflow.
                let mean = cur.mean * (cur.weight / proposed) + c.mean * (c.weight / proposed);
                let (lo, hi) = if cur.mean <= c.mean { (cur.mean, c.mean) } else { (c.mean, cur.mean) };
                cur = Centroid { mean: mean.clamp(lo, hi), weight: proposed };
            } else {
                so_far += cur.weight;
                out.push(cur);
                w_limit = limit(so_far);
                cur = c;
            }
        }
        out.push(cur);
        if backwards {
            out.reverse();
        }
        self.centroids = out;
    }

    /// Folds `other` into `self`, as if `self` had seen all of `other`'s values.
    /// Two exact digests stay exact while their values fit in one buffer.
    pub fn merge(&mut self, other: &TDigest) {
        self.nan += other.nan;
        self.neg_inf += other.neg_inf;
        self.pos_inf += other.pos_inf;
        if other.finite == 0 {
            return;
        }
        if other.min.total_cmp(&self.min).is_lt() {
            self.min = other.min;
        }
        if other.max.total_cmp(&self.max).is_gt() {
            self.max = other.max;
        }
        if other.exact {
            if self.exact && self.buffer.len() + other.buffer.len() <= self.exact_limit() {
                self.buffer.extend_from_slice(&other.buffer);
                self.finite += other.finite;
                self.sorted = false;
            } else {
                for &x in &other.buffer {
                    self.push_finite(x);
                }
            }
            return;
        }
        self.flush();
        let mut incoming = Vec::with_capacity(other.centroids.len() + other.buffer.len());
        incoming.extend_from_slice(&other.centroids);
        if !other.buffer.is_empty() {
            incoming.extend(other.buffer.iter().map(|&x| x.centroid()));
            incoming.sort_by(|a, b| a.mean.total_cmp(&b.mean));
        }
        self.finite += other.finite;
        self.merge_sorted(&incoming);
    }

    /// The q-quantile (q in [0, 1], clamped), `None` when empty or q is NaN.
    /// q = 0 gives the minimum and q = 1 the maximum, exactly. Takes `&mut`
    /// to sort or merge buffered values first.
    pub fn quantile(&mut self, q: f64) -> Option<f64> {
        if q.is_nan() || self.is_empty() {
            return None;
        }
        let q = q.clamp(0.0, 1.0);
        if self.exact {
            if !self.sorted {
                self.buffer.sort_unstable_by(f64::total_cmp);
                self.sorted = true;
            }
        } else {
            self.flush();
        }
        // numpy's 'linear' method over the whole order: −∞, finite, +∞, NaN.
        let n = self.count();
        let h = ((n - 1) as f64 * q).min((n - 1) as f64);
        let lo = h.floor();
        let t = h - lo;
        let lo = lo as u64;
        if t == 0.0 {
            return Some(self.value_at(lo));
        }
        let hi = lo + 1;
        if lo >= self.neg_inf && hi < self.neg_inf + self.finite {
            return Some(self.finite_at(lo - self.neg_inf, t));
        }
        Some(lerp(self.value_at(lo), self.value_at(hi), t))
    }

    /// The digest as bytes, for state export and snapshots: version 1, then
    /// little-endian fields (compression, flags, the four counts, the
    /// extremes, the centroids, the buffered values). [`TDigest::from_bytes`]
    /// reads it back into the same digest, bit for bit.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.centroids.len() * 16 + self.buffer.len() * 8);
        out.push(1u8);
        out.extend_from_slice(&self.compression.to_le_bytes());
        out.push(u8::from(self.exact) | u8::from(self.backwards) << 1);
        for count in [self.finite, self.neg_inf, self.pos_inf, self.nan] {
            out.extend_from_slice(&count.to_le_bytes());
        }
        out.extend_from_slice(&self.min.to_le_bytes());
        out.extend_from_slice(&self.max.to_le_bytes());
        out.extend_from_slice(&(self.centroids.len() as u64).to_le_bytes());
        for c in &self.centroids {
            out.extend_from_slice(&c.mean.to_le_bytes());
            out.extend_from_slice(&c.weight.to_le_bytes());
        }
        out.extend_from_slice(&(self.buffer.len() as u64).to_le_bytes());
        self.buffer.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
        out
    }

    /// Reads what [`TDigest::to_bytes`] wrote, checking every invariant the
    /// digest relies on; `Err` names the first one broken.
    pub fn from_bytes(bytes: &[u8]) -> Result<TDigest, String> {
        let mut at = 0usize;
        let mut take = |n: usize| -> Result<&[u8], String> {
            let part = bytes.get(at..at + n).ok_or_else(|| format!("a t-digest encoding ends early, at byte {at}"))?;
            at += n;
            Ok(part)
        };
        let word = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
        if take(1)? != [1] {
            return Err("unknown t-digest encoding version".into());
        }
        let compression = f64::from_bits(word(take(8)?));
        let flags = take(1)?[0];
        let (finite, neg_inf, pos_inf, nan) = (word(take(8)?), word(take(8)?), word(take(8)?), word(take(8)?));
        let (min, max) = (f64::from_bits(word(take(8)?)), f64::from_bits(word(take(8)?)));
        let n_centroids = word(take(8)?);
        if n_centroids > (bytes.len() / 16) as u64 {
            return Err(format!("a t-digest encoding claims {n_centroids} centroids in {} bytes", bytes.len()));
        }
        let mut centroids = Vec::with_capacity(n_centroids as usize);
        for _ in 0..n_centroids {
            let mean = f64::from_bits(word(take(8)?));
            let weight = f64::from_bits(word(take(8)?));
            centroids.push(Centroid { mean, weight });
        }
        let n_buffer = word(take(8)?);
        if n_buffer > (bytes.len() / 8) as u64 {
            return Err(format!("a t-digest encoding claims {n_buffer} buffered values in {} bytes", bytes.len()));
        }
        let buffer: Vec<f64> = (0..n_buffer).map(|_| take(8).map(|b| f64::from_bits(word(b)))).collect::<Result<_, _>>()?;
        if at != bytes.len() {
            return Err(format!("a t-digest encoding has {} bytes after its end", bytes.len() - at));
        }
        if !(10.0..=100_000.0).contains(&compression) || flags > 3 {
            return Err("a t-digest encoding has an invalid compression or flags".into());
        }
        let mut digest = TDigest::with_compression(compression);
        digest.exact = flags & 1 != 0;
        digest.backwards = flags & 2 != 0;
        let total = [neg_inf, pos_inf, nan].iter().try_fold(finite, |sum, &c| sum.checked_add(c));
        if total.is_none() {
            return Err("the counts of a t-digest encoding overflow".into());
        }
        if buffer.iter().any(|x| !x.is_finite()) || buffer.len() > digest.buffer_limit() {
            return Err("the buffered values of a t-digest encoding are not finite or too many".into());
        }
        let weights: f64 = centroids.iter().map(|c| c.weight).sum();
        let centroids_ok = centroids.iter().all(|c| c.mean.is_finite() && c.weight >= 1.0 && c.weight.fract() == 0.0)
            && centroids.windows(2).all(|w| w[0].mean <= w[1].mean);
        let weight_ok = if digest.exact {
            centroids.is_empty() && buffer.len() as u64 == finite
        } else {
            weights + buffer.len() as f64 == finite as f64
        };
        if !centroids_ok || !weight_ok {
            return Err("the centroids of a t-digest encoding are out of order, or do not add up to its count".into());
        }
        let extremes_ok =
            if finite == 0 { min == f64::INFINITY && max == f64::NEG_INFINITY } else { min.is_finite() && max.is_finite() && min <= max };
        if !extremes_ok {
            return Err("the extremes of a t-digest encoding do not fit its values".into());
        }
        digest.sorted = buffer.windows(2).all(|w| w[0].total_cmp(&w[1]).is_le());
        digest.centroids = centroids;
        digest.buffer = buffer;
        (digest.finite, digest.neg_inf, digest.pos_inf, digest.nan, digest.min, digest.max) = (finite, neg_inf, pos_inf, nan, min, max);
        Ok(digest)
    }

    /// The value at position `i` of the whole order.
    fn value_at(&self, i: u64) -> f64 {
        if i < self.neg_inf {
            f64::NEG_INFINITY
        } else if i < self.neg_inf + self.finite {
            self.finite_at(i - self.neg_inf, 0.0)
        } else if i < self.neg_inf + self.finite + self.pos_inf {
            f64::INFINITY
        } else {
            f64::NAN
        }
    }

    /// The finite value at 0-based position `i + t` (t in [0, 1), and
    /// `i + 1 < finite` when t > 0). Needs a sorted buffer or a flushed digest.
    fn finite_at(&self, i: u64, t: f64) -> f64 {
        if self.exact {
            let i = i as usize;
            return if t == 0.0 { self.buffer[i] } else { lerp(self.buffer[i], self.buffer[i + 1], t) };
        }
        let pos = i as f64 + t;
        let last = (self.finite - 1) as f64;
        if pos <= 0.0 {
            return self.min;
        }
        if pos >= last {
            return self.max;
        }
        // Centroid c covering positions [cum, cum + w) sits at its centre
        // cum + (w − 1)/2; interpolate linearly between neighbouring centres,
        // from the exact min at position 0 and to the exact max at n − 1.
        let (mut cum, mut prev_pos, mut prev_mean) = (0.0, 0.0, self.min);
        for c in &self.centroids {
            let centre = cum + (c.weight - 1.0) * 0.5;
            if pos < centre {
                return lerp(prev_mean, c.mean, (pos - prev_pos) / (centre - prev_pos));
            }
            cum += c.weight;
            prev_pos = centre;
            prev_mean = c.mean;
        }
        lerp(prev_mean, self.max, (pos - prev_pos) / (last - prev_pos))
    }
}

/// Linear interpolation `a + (b − a)·t` exactly as numpy's quantile computes
/// it (`b − (b − a)(1 − t)` for t ≥ 0.5), so exact quantiles match numpy bit
/// for bit; equal ends give that value (also ±∞), an infinite end wins for
/// 0 < t < 1, −∞ to +∞ gives NaN, and a NaN end gives NaN unless t = 0.
pub fn lerp(a: f64, b: f64, t: f64) -> f64 {
    if t == 0.0 || a == b {
        return a;
    }
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    if a.is_infinite() || b.is_infinite() {
        return if t >= 1.0 {
            b
        } else if a.is_infinite() && b.is_infinite() {
            f64::NAN
        } else if a.is_infinite() {
            a
        } else {
            b
        };
    }
    let diff = b - a;
    if diff.is_infinite() {
        // Finite ends more than f64::MAX apart.
        return a * (1.0 - t) + b * t;
    }
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// sin and cos of a small angle (|x| < 1) by their Taylor series, to keep the
/// digest independent of the platform's libm.
fn sin_cos(x: f64) -> (f64, f64) {
    let x2 = x * x;
    let (mut s, mut ts, mut c, mut tc) = (0.0, x, 0.0, 1.0);
    let mut k = 0.0;
    for _ in 0..40 {
        let (ns, nc) = (s + ts, c + tc);
        if ns == s && nc == c {
            break;
        }
        s = ns;
        c = nc;
        ts *= -x2 / ((k + 2.0) * (k + 3.0));
        tc *= -x2 / ((k + 1.0) * (k + 2.0));
        k += 2.0;
    }
    (s, c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SplitMix64 with Box-Muller: deterministic test data without `rand`.
    struct Rng(u64);
    impl Rng {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        /// Uniform in (0, 1).
        fn uniform(&mut self) -> f64 {
            ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
        fn normal(&mut self) -> f64 {
            let (u, v) = (self.uniform(), self.uniform());
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        }
        fn exponential(&mut self) -> f64 {
            -self.uniform().ln()
        }
    }

    const QS: [f64; 9] = [0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999];

    /// |rank(estimate)/n − q|, where the rank of a value tied in the data may
    /// be anything from the first to the last tied position.
    fn rank_error(sorted: &[f64], estimate: f64, q: f64) -> f64 {
        let n = sorted.len() as f64;
        let below = sorted.partition_point(|&x| x < estimate) as f64;
        let at_or_below = sorted.partition_point(|&x| x <= estimate) as f64;
        let target = q * n;
        if target < below {
            (below - target) / n
        } else if target > at_or_below {
            (target - at_or_below) / n
        } else {
            0.0
        }
    }

    fn max_rank_error(digest: &mut TDigest, data: &[f64]) -> f64 {
        let mut sorted = data.to_vec();
        sorted.sort_unstable_by(f64::total_cmp);
        assert_eq!(digest.count(), data.len() as u64);
        assert_eq!(digest.quantile(0.0), Some(sorted[0]));
        assert_eq!(digest.quantile(1.0), Some(sorted[sorted.len() - 1]));
        let mut worst: f64 = 0.0;
        for q in QS {
            let est = digest.quantile(q).unwrap();
            worst = worst.max(rank_error(&sorted, est, q));
        }
        worst
    }

    fn check(name: &str, data: &[f64]) -> f64 {
        let mut d = TDigest::new();
        for &x in data {
            d.add(x);
        }
        let err = max_rank_error(&mut d, data);
        eprintln!(
            "tdigest {name:>12}: n {} centroids {:>3} heap {:>5} B, max rank error {err:.5}",
            data.len(),
            d.centroid_count(),
            d.heap_bytes()
        );
        assert!(err <= 0.01, "{name}: rank error {err}");
        assert!(d.heap_bytes() <= 6 * 1024, "{name}: {} bytes", d.heap_bytes());
        err
    }

    fn data(n: usize, seed: u64, f: impl Fn(&mut Rng) -> f64) -> Vec<f64> {
        let mut rng = Rng(seed);
        (0..n).map(|_| f(&mut rng)).collect()
    }

    const N: usize = 1_000_000;

    #[test]
    fn uniform() {
        check("uniform", &data(N, 1, |r| r.uniform()));
    }

    #[test]
    fn normal() {
        check("normal", &data(N, 2, |r| r.normal()));
    }

    #[test]
    fn exponential() {
        check("exponential", &data(N, 3, |r| r.exponential()));
    }

    #[test]
    fn lognormal() {
        check("lognormal", &data(N, 4, |r| (2.0 * r.normal()).exp()));
    }

    #[test]
    fn sorted_and_reversed() {
        let mut v = data(N, 5, |r| r.normal());
        v.sort_unstable_by(f64::total_cmp);
        check("sorted", &v);
        v.reverse();
        check("reversed", &v);
    }

    #[test]
    fn many_ties() {
        check("ties", &data(N, 6, |r| (r.next_u64() % 7) as f64));
    }

    #[test]
    fn merged_digests() {
        // 100 digests of 10k values: random chunks of one lognormal stream,
        // and (harder) disjoint sorted ranges of a normal stream.
        let lognormal = data(N, 7, |r| (2.0 * r.normal()).exp());
        let mut sorted = data(N, 8, |r| r.normal());
        sorted.sort_unstable_by(f64::total_cmp);
        for (name, values) in [("merged", &lognormal), ("merged-ranges", &sorted)] {
            let mut total = TDigest::new();
            for chunk in values.chunks(10_000) {
                let mut d = TDigest::new();
                for &x in chunk {
                    d.add(x);
                }
                total.merge(&d);
            }
            let err = max_rank_error(&mut total, values);
            eprintln!("tdigest {name:>12}: 100 x 10k, centroids {}, max rank error {err:.5}", total.centroid_count());
            assert!(err <= 0.01, "{name}: rank error {err}");
        }
    }

    #[test]
    fn merge_tree_of_small_digests() {
        // 2,000 digests of 500 values each stay exact, then merge pairwise.
        let values = data(N, 9, |r| r.exponential());
        let mut level: Vec<TDigest> = values
            .chunks(500)
            .map(|c| {
                let mut d = TDigest::new();
                c.iter().for_each(|&x| d.add(x));
                assert!(d.is_exact());
                d
            })
            .collect();
        while level.len() > 1 {
            level = level
                .chunks(2)
                .map(|pair| {
                    let mut a = pair[0].clone();
                    if let Some(b) = pair.get(1) {
                        a.merge(b);
                    }
                    a
                })
                .collect();
        }
        let err = max_rank_error(&mut level[0], &values);
        eprintln!("tdigest {:>12}: max rank error {err:.5}", "merge-tree");
        assert!(err <= 0.01, "rank error {err}");
    }

    /// numpy's `linear` quantile, written naively.
    fn numpy_linear(values: &[f64], q: f64) -> f64 {
        let mut s = values.to_vec();
        s.sort_unstable_by(f64::total_cmp);
        let h = (s.len() - 1) as f64 * q;
        let lo = h.floor() as usize;
        let hi = (lo + 1).min(s.len() - 1);
        lerp(s[lo], s[hi], h - h.floor())
    }

    #[test]
    fn small_inputs_are_exact() {
        let mut d = TDigest::new();
        assert_eq!(d.quantile(0.5), None);
        assert_eq!(d.count(), 0);
        for x in [3.0, 1.0, 4.0, 2.0] {
            d.add(x);
        }
        // numpy.quantile([1, 2, 3, 4], q)
        assert_eq!(d.quantile(0.0), Some(1.0));
        assert_eq!(d.quantile(0.3), Some(1.9));
        assert_eq!(d.quantile(0.5), Some(2.5));
        assert_eq!(d.quantile(0.75), Some(3.25));
        assert_eq!(d.quantile(1.0), Some(4.0));
        assert_eq!(d.quantile(f64::NAN), None);
        let mut one = TDigest::new();
        one.add(7.5);
        assert_eq!(one.quantile(0.3), Some(7.5));

        for n in [1usize, 2, 10, 100, 511, 512] {
            let values = data(n, n as u64, |r| r.normal());
            let mut d = TDigest::new();
            values.iter().for_each(|&x| d.add(x));
            assert!(d.is_exact());
            for q in [0.0, 0.001, 0.1, 0.25, 0.3, 0.5, 0.77, 0.9, 0.999, 1.0] {
                assert_eq!(d.quantile(q), Some(numpy_linear(&values, q)), "n {n} q {q}");
            }
            // Interleaving adds and quantiles keeps it exact.
            d.add(0.0);
            let mut more = values.clone();
            more.push(0.0);
            if more.len() <= 512 {
                assert_eq!(d.quantile(0.4), Some(numpy_linear(&more, 0.4)));
            }
        }
        // Two exact halves merge into an exact whole.
        let values = data(400, 10, |r| r.uniform());
        let (mut a, mut b) = (TDigest::new(), TDigest::new());
        values[..150].iter().for_each(|&x| a.add(x));
        values[150..].iter().for_each(|&x| b.add(x));
        a.merge(&b);
        assert!(a.is_exact());
        assert_eq!(a.quantile(0.37), Some(numpy_linear(&values, 0.37)));
    }

    #[test]
    fn beyond_the_buffer_stays_close() {
        let values = data(5_000, 11, |r| r.normal());
        let mut d = TDigest::new();
        values.iter().for_each(|&x| d.add(x));
        assert!(!d.is_exact());
        let mut s = values.clone();
        s.sort_unstable_by(f64::total_cmp);
        for q in [0.0, 0.001, 0.5, 0.999, 1.0] {
            let e = rank_error(&s, d.quantile(q).unwrap(), q);
            assert!(e <= 0.002, "q {q}: {e}");
        }
    }

    #[test]
    fn nan_and_infinities() {
        // Exact: [-inf, 1, 2, 3, inf, NaN, NaN]
        let mut d = TDigest::new();
        for x in [f64::NAN, 2.0, f64::INFINITY, 1.0, f64::NEG_INFINITY, f64::NAN, 3.0] {
            d.add(x);
        }
        assert_eq!(d.count(), 7);
        assert_eq!(d.quantile(0.0), Some(f64::NEG_INFINITY));
        assert_eq!(d.quantile(0.125), Some(f64::NEG_INFINITY)); // h = 0.75: -inf..1
        assert_eq!(d.quantile(0.25), Some(1.5));
        assert_eq!(d.quantile(0.5), Some(3.0));
        assert_eq!(d.quantile(0.6), Some(f64::INFINITY)); // h = 3.6: 3..inf
        assert!(d.quantile(0.75).unwrap().is_nan()); // h = 4.5: inf..NaN
        assert!(d.quantile(1.0).unwrap().is_nan());

        let mut nans = TDigest::new();
        nans.add(f64::NAN);
        assert!(nans.quantile(0.5).unwrap().is_nan());
        let mut infs = TDigest::new();
        infs.add(f64::INFINITY);
        infs.add(f64::INFINITY);
        assert_eq!(infs.quantile(0.5), Some(f64::INFINITY));

        // Digest mode: 10% NaN on top of uniform values.
        let values = data(100_000, 12, |r| r.uniform());
        let mut d = TDigest::new();
        for (i, &x) in values.iter().enumerate() {
            d.add(if i % 10 == 0 { f64::NAN } else { x });
        }
        assert!(!d.is_exact());
        assert!(d.quantile(0.95).unwrap().is_nan());
        assert!(d.quantile(1.0).unwrap().is_nan());
        // 90% of the mass is finite: q = 0.45 is the finite median (≈ 0.5).
        assert!((d.quantile(0.45).unwrap() - 0.5).abs() < 0.01);
    }

    #[test]
    fn extreme_magnitudes() {
        let mut d = TDigest::new();
        for i in 0..10_000 {
            d.add(if i % 2 == 0 { f64::MAX } else { -f64::MAX });
        }
        assert_eq!(d.quantile(0.0), Some(-f64::MAX));
        assert_eq!(d.quantile(1.0), Some(f64::MAX));
        for q in [0.1, 0.5, 0.9] {
            assert!(d.quantile(q).unwrap().is_finite());
        }
    }

    #[test]
    fn small_digest_memory() {
        let mut d = TDigest::new();
        assert_eq!(d.heap_bytes(), 0);
        for i in 0..10 {
            d.add(f64::from(i));
        }
        assert!(d.heap_bytes() <= 128);
        assert!(std::mem::size_of::<TDigest>() <= 128);
    }

    #[test]
    fn deterministic() {
        let values = data(200_000, 13, |r| r.normal());
        let run = || {
            let mut d = TDigest::new();
            values.iter().for_each(|&x| d.add(x));
            QS.map(|q| d.quantile(q).unwrap().to_bits())
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn taylor_sin_cos() {
        for x in [0.0, 1e-6, 0.0314, 0.2, 0.628] {
            let (s, c) = sin_cos(x);
            // Within an ulp or two of libm.
            assert!((s - x.sin()).abs() <= 2.0 * f64::EPSILON * x, "sin {x}");
            assert!((c - x.cos()).abs() <= 2.0 * f64::EPSILON, "cos {x}");
        }
    }

    #[test]
    fn compression_is_clamped() {
        assert_eq!(TDigest::with_compression(f64::NAN).compression(), 10.0);
        assert_eq!(TDigest::with_compression(1.0).compression(), 10.0);
        assert_eq!(TDigest::with_compression(1e9).compression(), 100_000.0);
        let values = data(100_000, 14, |r| r.uniform());
        for c in [10.0, 50.0, 1000.0] {
            let mut d = TDigest::with_compression(c);
            values.iter().for_each(|&x| d.add(x));
            let err = max_rank_error(&mut d, &values);
            assert!(err <= 10.0 / c, "δ {c}: {err}");
        }
    }
}
