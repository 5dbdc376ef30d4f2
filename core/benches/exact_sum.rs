//! What an exactly rounded float `sum` would cost the `tumbling` case.
//!
//! sash's float sums add in double precision, so a sum merged from parts
//! (Spark partitions, threads, restored streams) may differ in its last bits
//! from one pass (docs/semantics.md, "Same bytes, whatever the split"). An
//! exactly rounded sum in every window's state would remove that, and the
//! architecture issue asks for it as the default if it costs at most 10% of
//! the tumbling case. This module measures that cost as a floor: the
//! cheapest exact accumulator we know for such data, timed alone against the
//! plain double-precision add it would replace, on the tumbling case's own
//! windows (one per key and minute). The kernel would pay at least the
//! difference on top of everything else it does.
//!
//! The exact accumulator is a fixed-point integer in units of 2^-1074 (the
//! least subnormal, so every finite double is an integer there): an `i128`
//! holding a window's bits from its smallest to its largest value
//! ([`Narrow`]), widened to the whole range of doubles ([`Wide`], 2,240 bits)
//! only when a window's values span more than the `i128` can hold. Neal's
//! "small superaccumulator" (arXiv:1505.05571) keeps the whole range in every
//! slot instead, 536 bytes each: 0.9 GB for this case's 1.67M windows.
//! Before timing, every window's exact sum is checked against Shewchuk's
//! algorithm (Python's `math.fsum`), an independent exact method.

/// Whether a double is NaN or infinite; those are tallied apart, as the
/// kernel's running sums do, since they have no fixed-point value.
#[inline(always)]
fn is_special(bits: u64) -> bool {
    (bits >> 52) & 0x7ff == 0x7ff
}

/// A finite double as (bit position of its least significant mantissa bit in
/// units of 2^-1074, signed mantissa): x = mantissa · 2^(position − 1074).
#[inline(always)]
fn split(bits: u64) -> (u32, i64) {
    let biased = ((bits >> 52) & 0x7ff) as u32;
    let fraction = (bits & ((1 << 52) - 1)) as i64;
    let (position, magnitude) = if biased == 0 { (0, fraction) } else { (biased - 1, fraction | 1 << 52) };
    (position, if bits >> 63 == 1 { -magnitude } else { magnitude })
}

/// The whole range of doubles as a two's-complement fixed-point integer:
/// 35 limbs of 64 bits, bit 0 worth 2^-1074. The largest double's top bit is
/// bit 2,097, so 142 bits of headroom are left for carries: no sum of fewer
/// than 2^141 doubles overflows.
#[derive(Clone, Debug)]
pub struct Wide {
    limbs: [u64; Wide::LIMBS],
}

impl Wide {
    const LIMBS: usize = 35;

    fn zero() -> Wide {
        Wide { limbs: [0; Wide::LIMBS] }
    }

    /// Adds `value · 2^position` (value any i128, position < 2,100).
    fn add_shifted(&mut self, value: i128, position: u32) {
        let (limb, shift) = ((position / 64) as usize, position % 64);
        // The value sign-extended to 256 bits, shifted into place: four limbs
        // from `limb` on, then the sign's carry into every limb above.
        let low = value as u128;
        let high: u128 = if value < 0 { u128::MAX } else { 0 };
        let words = [low as u64, (low >> 64) as u64, high as u64, (high >> 64) as u64];
        let mut shifted = [0u64; 4];
        for i in 0..4 {
            shifted[i] = if shift == 0 { words[i] } else { words[i] << shift | if i == 0 { 0 } else { words[i - 1] >> (64 - shift) } };
        }
        let fill = if value < 0 { u64::MAX } else { 0 };
        let mut carry = false;
        for i in limb..Wide::LIMBS {
            let addend = if i - limb < 4 { shifted[i - limb] } else { fill };
            let (sum, c1) = self.limbs[i].overflowing_add(addend);
            let (sum, c2) = sum.overflowing_add(carry as u64);
            self.limbs[i] = sum;
            carry = c1 || c2;
        }
    }

    /// The nearest double (ties to even), ±inf beyond the largest.
    fn to_f64(&self) -> f64 {
        let negative = self.limbs[Wide::LIMBS - 1] >> 63 == 1;
        let mut magnitude = self.limbs;
        if negative {
            let mut carry = true;
            for limb in magnitude.iter_mut() {
                let (v, c) = (!*limb).overflowing_add(carry as u64);
                *limb = v;
                carry = c;
            }
        }
        let Some(top_limb) = (0..Wide::LIMBS).rev().find(|&i| magnitude[i] != 0) else { return 0.0 };
        let top_bit = top_limb as u32 * 64 + 63 - magnitude[top_limb].leading_zeros();
        let bit = |i: u32| magnitude[(i / 64) as usize] >> (i % 64) & 1 == 1;
        let result = if top_bit < 53 {
            // Below 2^53 units of 2^-1074 every integer is a double (subnormal
            // or the least normals): no rounding.
            magnitude[0] as f64 * f64::from_bits(1)
        } else {
            // Keep 53 bits from the top, round half to even on the rest.
            let lsb = top_bit - 52;
            let mut mantissa = 0u64;
            for i in (lsb..=top_bit).rev() {
                mantissa = mantissa << 1 | bit(i) as u64;
            }
            let half = bit(lsb - 1);
            let below = lsb - 1;
            let sticky = magnitude[..(below / 64) as usize].iter().any(|&l| l != 0)
                || magnitude[(below / 64) as usize] & ((1u64 << (below % 64)) - 1) != 0;
            if half && (sticky || mantissa & 1 == 1) {
                mantissa += 1;
            }
            let (mantissa, lsb) = if mantissa == 1 << 53 { (mantissa >> 1, lsb + 1) } else { (mantissa, lsb) };
            // mantissa · 2^(lsb − 1074) with 2^52 ≤ mantissa < 2^53 is
            // 1.fraction · 2^(lsb − 1022): biased exponent lsb + 1.
            let biased = lsb as u64 + 1;
            if biased >= 0x7ff {
                f64::INFINITY
            } else {
                f64::from_bits(biased << 52 | (mantissa & ((1 << 52) - 1)))
            }
        };
        if negative {
            -result
        } else {
            result
        }
    }
}

/// One window's exact sum while its values span at most about 70 bits: the
/// sum is `value · 2^(position − 1074)`. `wide` is the index of the window's
/// [`Wide`] once it outgrew this (then `value` is 0), or `u32::MAX`.
#[derive(Clone, Copy, Debug)]
pub struct Narrow {
    value: i128,
    position: u32,
    wide: u32,
}

impl Default for Narrow {
    fn default() -> Narrow {
        Narrow { value: 0, position: Narrow::NO_POSITION, wide: u32::MAX }
    }
}

impl Narrow {
    const BELOW_FIRST: u32 = 40;
    /// Far from every position (0..2046) either way round, so no add takes
    /// the fast path before the first sets the position, or once wide.
    const NO_POSITION: u32 = 1 << 31;

    /// Adds a finite double (as bits), moving to `wides` when it must.
    ///
    /// The first value of a window sets the fixed point 40 bits below its
    /// own least bit, so later values down to 2^-40 of it and up to 2^32
    /// times it take the one well-predicted branch of the fast path.
    #[inline(always)]
    pub fn add(&mut self, bits: u64, wides: &mut Vec<Wide>) {
        let (position, mantissa) = split(bits);
        // position < self.position wraps above 72 too.
        let shift = position.wrapping_sub(self.position);
        if shift <= 72 {
            if let Some(v) = self.value.checked_add((mantissa as i128) << shift) {
                self.value = v;
                return;
            }
        }
        self.add_slow(position, mantissa, wides)
    }

    #[cold]
    fn add_slow(&mut self, position: u32, mantissa: i64, wides: &mut Vec<Wide>) {
        if self.wide == u32::MAX {
            if self.value == 0 {
                self.position = position.saturating_sub(Narrow::BELOW_FIRST);
                self.value = (mantissa as i128) << (position - self.position);
                return;
            }
            if position < self.position {
                let shift = self.position - position;
                if shift < 127 && (self.value << shift) >> shift == self.value {
                    if let Some(v) = (self.value << shift).checked_add(mantissa as i128) {
                        self.value = v;
                        self.position = position;
                        return;
                    }
                }
            }
            let mut wide = Wide::zero();
            wide.add_shifted(self.value, self.position);
            self.value = 0;
            self.position = Narrow::NO_POSITION;
            self.wide = wides.len() as u32;
            wides.push(wide);
        }
        wides[self.wide as usize].add_shifted(mantissa as i128, position);
    }

    /// The exactly rounded sum.
    pub fn value(&self, wides: &[Wide]) -> f64 {
        if self.wide != u32::MAX {
            return wides[self.wide as usize].to_f64();
        }
        if self.value == 0 {
            return 0.0;
        }
        let mut wide = Wide::zero();
        wide.add_shifted(self.value, self.position);
        wide.to_f64()
    }
}

/// Shewchuk's exactly rounded sum of finite doubles, as Python's `math.fsum`
/// computes it: the independent check of [`Narrow`].
pub fn fsum(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut partials: Vec<f64> = Vec::new();
    for mut x in values {
        let mut kept = 0;
        for i in 0..partials.len() {
            let mut y = partials[i];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                partials[kept] = lo;
                kept += 1;
            }
            x = hi;
        }
        partials.truncate(kept);
        partials.push(x);
    }
    let mut n = partials.len();
    if n == 0 {
        return 0.0;
    }
    n -= 1;
    let mut hi = partials[n];
    let mut lo = 0.0;
    while n > 0 {
        let x = hi;
        n -= 1;
        let y = partials[n];
        hi = x + y;
        lo = y - (hi - x);
        if lo != 0.0 {
            break;
        }
    }
    if n > 0 && ((lo < 0.0 && partials[n - 1] < 0.0) || (lo > 0.0 && partials[n - 1] > 0.0)) {
        let y = lo * 2.0;
        let x = hi + y;
        if y == x - hi {
            hi = x;
        }
    }
    hi
}

/// The measurement: (windows, seconds of the plain adds, seconds of the
/// exact adds), each the best of `repeats` over `slots` (each row's window,
/// numbered from 0, computed before the clock starts) and `values`.
/// Panics if any window's exact sum differs from [`fsum`]'s.
pub fn measure(slots: &[u32], values: &[f64], repeats: usize) -> (usize, f64, f64) {
    let windows = slots.iter().max().map_or(0, |&s| s as usize + 1);
    let mut by_window: Vec<Vec<f64>> = vec![Vec::new(); windows];
    for (&slot, &x) in slots.iter().zip(values) {
        by_window[slot as usize].push(x);
    }
    let (mut plain_best, mut exact_best) = (f64::INFINITY, f64::INFINITY);
    let mut last = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..repeats {
        // The kernel's float sum: one double per window, NaN and infinities
        // handled by the add itself.
        // State is allocated and faulted in before the clock starts: the
        // kernel allocates its own either way, so only the adds are timed.
        let mut sums = vec![0.0f64; windows];
        sums.fill(0.0);
        let start = std::time::Instant::now();
        for (&slot, &x) in slots.iter().zip(values) {
            sums[slot as usize] += x;
        }
        std::hint::black_box(&sums);
        plain_best = plain_best.min(start.elapsed().as_secs_f64());

        let mut exact = vec![Narrow::default(); windows];
        let mut specials = vec![0u8; windows];
        let mut wides = Vec::new();
        let start = std::time::Instant::now();
        for (&slot, &x) in slots.iter().zip(values) {
            let bits = x.to_bits();
            if is_special(bits) {
                specials[slot as usize] |= 1;
            } else {
                exact[slot as usize].add(bits, &mut wides);
            }
        }
        std::hint::black_box((&exact, &specials, &wides));
        exact_best = exact_best.min(start.elapsed().as_secs_f64());
        last = (exact, specials, wides);
    }
    let (exact, specials, wides) = last;
    for (window, values) in by_window.iter().enumerate() {
        if specials[window] == 0 {
            let (got, want) = (exact[window].value(&wides), fsum(values.iter().copied()));
            assert_eq!(got.to_bits(), want.to_bits(), "window {window}: exact sum {got} but fsum {want}");
        }
    }
    (windows, plain_best, exact_best)
}

/// Hand-picked sums where double addition in order is wrong, and random
/// mixed-magnitude ones, against [`fsum`].
pub fn self_check() {
    let cases: Vec<Vec<f64>> = vec![
        vec![1e16, 1.0, -1e16],
        vec![f64::MAX, -f64::MAX, 1.0],
        vec![f64::MAX, 1e292, -1e292],
        vec![f64::MIN_POSITIVE, -f64::from_bits(1), 1e-320],
        vec![1.0, 1e-30, -1.0],
        vec![0.1; 10],
        vec![1e300, 1.0, -1e300, 1e-300, 3.5],
        vec![2f64.powi(53), 1.0, 1.0 / 2f64.powi(60)],
        vec![],
    ];
    let mut seed = 0x9e3779b97f4a7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut random = Vec::new();
    for _ in 0..2000 {
        let n = (next() % 12) as usize;
        random.push(
            (0..n)
                .map(|_| {
                    let mantissa = (next() >> 11) as f64 / 2f64.powi(53);
                    let exponent = (next() % 200) as i32 - 100;
                    let sign = if next() & 1 == 1 { -1.0 } else { 1.0 };
                    sign * mantissa * 2f64.powi(exponent)
                })
                .collect(),
        );
    }
    let mut wides = Vec::new();
    let mut sum = Narrow::default();
    for x in [f64::MAX, f64::MAX / 2.0, -1.0] {
        sum.add(x.to_bits(), &mut wides);
    }
    assert_eq!(sum.value(&wides), f64::INFINITY, "a sum beyond the largest double rounds to infinity");
    for values in cases.iter().chain(&random) {
        let mut wides = Vec::new();
        let mut sum = Narrow::default();
        for &x in values {
            sum.add(x.to_bits(), &mut wides);
        }
        let want = fsum(values.iter().copied());
        let got = sum.value(&wides);
        if want.is_finite() {
            assert_eq!(got.to_bits(), want.to_bits(), "{values:?}: exact sum {got} but fsum {want}");
        }
    }
}
