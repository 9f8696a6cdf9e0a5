//! Sign-magnitude minifloats (FP8 E4M3/E5M2, FP6 E3M2/E2M3, FP4 E2M1, FP16, BF16) as value grids.
//!
//! `quantize` maps an f32 to the nearest representable value, ties to even (RNE), as the OCP MX spec asks.
//! Finite values beyond the largest normal saturate to ±max (the convention of every ML quantizer: an
//! overflow to Inf would poison a whole tensor); NaN and ±Inf inputs pass through unchanged ("propagate").

/// Which codes of the top exponent are special.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Specials {
    /// IEEE style: the top exponent holds Inf (mantissa 0) and NaN (FP16, BF16, E5M2).
    Ieee,
    /// Only S.1111.111 is NaN; the rest of the top exponent holds normals (OCP E4M3, "fn").
    NanOnly,
    /// Every code is a finite number (E3M2, E2M3, E2M1).
    None,
}

/// A minifloat described by its exponent and mantissa widths and bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MiniFloat {
    pub ebits: u32,
    pub mbits: u32,
    pub bias: i32,
    pub specials: Specials,
}

/// 2^e as f32, exact for every e in the f32 range including subnormals.
pub fn pow2(e: i32) -> f32 {
    if e >= -126 { f32::from_bits(((e + 127) as u32) << 23) } else { f32::from_bits(1u32 << (e + 149)) }
}

impl MiniFloat {
    pub const E4M3: Self = Self { ebits: 4, mbits: 3, bias: 7, specials: Specials::NanOnly };
    pub const E5M2: Self = Self { ebits: 5, mbits: 2, bias: 15, specials: Specials::Ieee };
    pub const E3M2: Self = Self { ebits: 3, mbits: 2, bias: 3, specials: Specials::None };
    pub const E2M3: Self = Self { ebits: 2, mbits: 3, bias: 1, specials: Specials::None };
    pub const E2M1: Self = Self { ebits: 2, mbits: 1, bias: 1, specials: Specials::None };
    pub const FP16: Self = Self { ebits: 5, mbits: 10, bias: 15, specials: Specials::Ieee };
    pub const BF16: Self = Self { ebits: 8, mbits: 7, bias: 127, specials: Specials::Ieee };

    /// Storage width in bits, sign included.
    pub const fn bits(&self) -> u32 {
        1 + self.ebits + self.mbits
    }

    /// Unbiased exponent of the largest normal.
    pub const fn emax(&self) -> i32 {
        let top = (1i32 << self.ebits) - 1;
        match self.specials {
            Specials::Ieee => top - 1 - self.bias,
            Specials::NanOnly | Specials::None => top - self.bias,
        }
    }

    /// Largest finite magnitude (448 for E4M3, 57344 for E5M2, 6 for E2M1 …).
    pub fn max_normal(&self) -> f32 {
        let frac = match self.specials {
            // The all-ones mantissa of the top exponent is NaN, so the largest mantissa is one less.
            Specials::NanOnly => 2.0 - 2.0 * pow2(-(self.mbits as i32)),
            Specials::Ieee | Specials::None => 2.0 - pow2(-(self.mbits as i32)),
        };
        frac * pow2(self.emax())
    }

    /// Smallest normal magnitude, 2^(1-bias).
    pub fn min_normal(&self) -> f32 {
        pow2(1 - self.bias)
    }

    /// Spacing of the subnormals, 2^(1-bias-m).
    pub fn min_subnormal(&self) -> f32 {
        pow2(1 - self.bias - self.mbits as i32)
    }

    /// Nearest representable value (RNE), saturating at ±max; NaN and ±Inf pass through.
    #[inline]
    pub fn quantize(&self, x: f32) -> f32 {
        if !x.is_finite() {
            return x;
        }
        let q = self.quantize_finite(x.abs());
        f32::from_bits(q.to_bits() | (x.to_bits() & 0x8000_0000))
    }

    /// [`Self::quantize`] for a finite, non-negative input.
    #[inline]
    pub fn quantize_finite(&self, a: f32) -> f32 {
        self.grid().quantize_finite(a)
    }

    /// The constants of [`Grid::quantize_finite`], computed once for a hot loop.
    pub fn grid(&self) -> Grid {
        let shift = 23 - self.mbits;
        Grid {
            shift,
            mask: !((1u32 << shift) - 1),
            half: (1u32 << (shift - 1)) - 1,
            c: 1.5 * 8_388_608.0 * self.min_subnormal(),
            min_normal: self.min_normal(),
            max: self.max_normal(),
        }
    }

    /// Decodes a bit code (sign in bit `ebits + mbits`) to its value.
    pub fn decode(&self, code: u32) -> f32 {
        let m = self.mbits;
        let emask = (1u32 << self.ebits) - 1;
        let mmask = (1u32 << m) - 1;
        let sign = if (code >> (self.ebits + m)) & 1 == 1 { -1.0 } else { 1.0 };
        let exp = (code >> m) & emask;
        let man = code & mmask;
        let special = match self.specials {
            Specials::Ieee if exp == emask => Some(if man == 0 { f32::INFINITY } else { f32::NAN }),
            Specials::NanOnly if exp == emask && man == mmask => Some(f32::NAN),
            _ => None,
        };
        if let Some(v) = special {
            return if v.is_nan() { v } else { sign * v };
        }
        let v = if exp == 0 {
            man as f32 * self.min_subnormal()
        } else {
            (1.0 + man as f32 * pow2(-(m as i32))) * pow2(exp as i32 - self.bias)
        };
        sign * v
    }

    /// Every finite non-negative value of the format, ascending (for tests and grids; formats ≤ 16 bits).
    pub fn positive_values(&self) -> Vec<f32> {
        let half = 1u32 << (self.ebits + self.mbits);
        let mut v: Vec<f32> = (0..half).map(|c| self.decode(c)).filter(|v| v.is_finite()).collect();
        v.sort_by(f32::total_cmp);
        v.dedup();
        v
    }
}

/// A minifloat's rounding constants, precomputed so the per-element work is a few integer and float ops
/// that vectorise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    shift: u32,
    mask: u32,
    half: u32,
    c: f32,
    min_normal: f32,
    max: f32,
}

impl Grid {
    /// Nearest value for a finite a ≥ 0, ties to even, saturating at max.
    #[inline(always)]
    pub fn quantize_finite(&self, a: f32) -> f32 {
        // Normal range: round the f32 mantissa to m bits, ties to even; a carry moves into the exponent.
        let b = a.to_bits();
        let lsb = (b >> self.shift) & 1;
        let normal = f32::from_bits((b + self.half + lsb) & self.mask);
        // Subnormal range: a fixed step; adding C whose ulp is that step rounds to it exactly (RNE).
        let sub = (a + self.c) - self.c;
        let q = if a < self.min_normal { sub } else { normal };
        if q > self.max { self.max } else { q }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_match_the_ocp_table() {
        assert_eq!(MiniFloat::E4M3.max_normal(), 448.0);
        assert_eq!(MiniFloat::E5M2.max_normal(), 57344.0);
        assert_eq!(MiniFloat::E3M2.max_normal(), 28.0);
        assert_eq!(MiniFloat::E2M3.max_normal(), 7.5);
        assert_eq!(MiniFloat::E2M1.max_normal(), 6.0);
        assert_eq!(MiniFloat::FP16.max_normal(), 65504.0);
        assert_eq!(MiniFloat::BF16.max_normal(), f32::from_bits(0x7F7F_0000));
        assert_eq!(MiniFloat::E4M3.min_normal(), pow2(-6));
        assert_eq!(MiniFloat::E4M3.min_subnormal(), pow2(-9));
        assert_eq!(MiniFloat::E5M2.min_subnormal(), pow2(-16));
        assert_eq!(MiniFloat::E3M2.min_subnormal(), 0.0625);
        assert_eq!(MiniFloat::E2M3.min_subnormal(), 0.125);
        assert_eq!(MiniFloat::E2M1.positive_values(), vec![0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]);
    }

    #[test]
    fn every_format_round_trips_its_own_values() {
        for f in [
            MiniFloat::E4M3,
            MiniFloat::E5M2,
            MiniFloat::E3M2,
            MiniFloat::E2M3,
            MiniFloat::E2M1,
            MiniFloat::FP16,
            MiniFloat::BF16,
        ] {
            let step = if f.bits() > 8 { 7 } else { 1 };
            let codes = 1u32 << f.bits();
            for code in (0..codes).step_by(step) {
                let v = f.decode(code);
                if v.is_finite() {
                    assert_eq!(f.quantize(v).to_bits(), v.to_bits(), "{f:?} code {code:#x} value {v}");
                }
            }
        }
    }

    #[test]
    fn ties_go_to_even_and_overflow_saturates() {
        assert_eq!(MiniFloat::E2M1.quantize(5.0), 4.0);
        assert_eq!(MiniFloat::E2M1.quantize(2.5), 2.0);
        assert_eq!(MiniFloat::E2M1.quantize(0.25), 0.0);
        assert_eq!(MiniFloat::E2M1.quantize(0.75), 1.0);
        assert_eq!(MiniFloat::E2M1.quantize(-7.0), -6.0);
        assert_eq!(MiniFloat::E4M3.quantize(0.3), 0.3125);
        assert_eq!(MiniFloat::E4M3.quantize(460.0), 448.0);
        assert_eq!(MiniFloat::E4M3.quantize(1e9), 448.0);
        assert_eq!(MiniFloat::FP16.quantize(65520.0), 65504.0);
        assert!(MiniFloat::E4M3.quantize(f32::NAN).is_nan());
        assert_eq!(MiniFloat::E5M2.quantize(f32::NEG_INFINITY), f32::NEG_INFINITY);
        assert_eq!(MiniFloat::BF16.quantize(1.0 + 1.0 / 256.0), 1.0);
        assert_eq!(MiniFloat::BF16.quantize(1.0 + 3.0 / 256.0), 1.0 + 4.0 / 256.0);
    }

    #[test]
    fn quantize_is_the_nearest_grid_value() {
        // Reference: brute force over the grid, ties to the value with an even code.
        for f in [MiniFloat::E4M3, MiniFloat::E3M2, MiniFloat::E2M3, MiniFloat::E2M1, MiniFloat::E5M2] {
            let grid = f.positive_values();
            let max = f.max_normal();
            let mut x = 0.0f32;
            while x < max * 1.1 {
                let q = f.quantize(x);
                let best = grid.iter().map(|g| (g - x).abs()).fold(f32::INFINITY, f32::min);
                assert!(((q - x).abs() - best).abs() <= 1e-6 * x.max(1e-3) || x > max, "{f:?} {x} -> {q}");
                x += max / 997.0;
            }
        }
    }
}
