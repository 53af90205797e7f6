//! `exp` and `ln(1 + y)` written to vectorize: straight-line arithmetic,
//! bit moves and selects, no branches, no table lookups and no calls, so
//! that a loop applying them to a slice becomes SIMD code (the runtime's
//! slice kernels compile such loops for AVX2 and AVX-512 where the machine
//! has them). Softplus and the sigmoid, which a decoder's Bernoulli
//! likelihood evaluates once per pixel, are built from them.
//!
//! A scalar call and a vectorized loop perform the same IEEE operations in
//! the same order (no fused multiply-adds), so they give the same bits: the
//! interpreter, which calls these per element, and the JIT, which calls the
//! slice kernels, agree exactly.
//!
//! Accuracy (the tests below): [`exp`] within 1 ulp of the C library's
//! `exp` on `[−745, 710]`, [`ln_1p_unit`] within 5e-16 relative of `ln_1p`
//! on `[0, 1]`.

/// 1.5 · 2⁵²: adding it to a float of magnitude below 2⁵¹ rounds that float
/// to an integer, which the sum's low bits then hold.
const SHIFTER: f64 = 6_755_399_441_055_744.0;

/// `ln 2` in two parts (Cody and Waite): the high part has 20 trailing zero
/// bits, so `k · LN2_HI` is exact for `|k| < 2²⁰` (the bits are fdlibm's).
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000); // 6.93147180369123816490e-1
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76); // 1.90821492927058770002e-10

/// `2ᵏ` for an integral `k` in `[−1022, 1023]` held as a float.
#[inline(always)]
fn pow2(k: f64) -> f64 {
    // The biased exponent `k + 1023` lands in the low bits of the shifted
    // sum; shifting them into the exponent field drops the shifter's bits.
    f64::from_bits((k + 1023.0 + SHIFTER).to_bits() << 52)
}

/// `eˣ`: `x = k·ln 2 + r` with `|r| ≤ ½ ln 2` (Cody–Waite reduction), `eʳ`
/// by its Taylor polynomial of degree 13 in Horner form (truncation below
/// 4e-18 relative), and `2ᵏ` applied in two halves so that results in the
/// subnormal range round once. `+∞` past 709.78, `0` below −745.13, NaN
/// for NaN.
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    // Clamped so that `k` stays in range; the ends overflow or underflow
    // through the scaling itself.
    let xc = x.clamp(-746.0, 710.0);
    let k = (xc * std::f64::consts::LOG2_E + SHIFTER) - SHIFTER;
    let r = (xc - k * LN2_HI) - k * LN2_LO;
    let mut p = 1.0 / 6_227_020_800.0; // 1/13!
    for inverse_factorial in [
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = p * r + inverse_factorial;
    }
    let half = (k * 0.5 + SHIFTER) - SHIFTER;
    let y = p * pow2(half) * pow2(k - half);
    if x.is_nan() { x } else { y }
}

/// Coefficients of the minimax polynomial `R(z)`, `z = s²`, in
/// `ln(1 + f) = 2s + s·R(z)` with `s = f / (2 + f)`, from Sun
/// Microsystems' fdlibm (`e_log.c`); the error of the polynomial is below
/// 2⁻⁵⁸·⁴⁵ on `|s| ≤ 0.1716`.
const LG: [f64; 7] = [
    f64::from_bits(0x3fe5_5555_5555_5593), // 6.666666666666735130e-1
    f64::from_bits(0x3fd9_9999_9997_fa04), // 3.999999999940941908e-1
    f64::from_bits(0x3fd2_4924_9422_9359), // 2.857142874366239149e-1
    f64::from_bits(0x3fcc_71c5_1d8e_78af), // 2.222219843214978396e-1
    f64::from_bits(0x3fc7_4664_96cb_03de), // 1.818357216161805012e-1
    f64::from_bits(0x3fc3_9a09_d078_c69f), // 1.531383769920937332e-1
    f64::from_bits(0x3fc2_f112_df3e_5244), // 1.479819860511658591e-1
];

/// `ln(1 + y)` for `y` in `[0, 1]` (the range softplus needs): with
/// `u = 1 ⊕ y`, `ln(1 + y) = ln u + c` where `c = (y − (u − 1)) / u`
/// corrects the rounding of the sum (`y − (u − 1)` is that rounding
/// error, exact by Sterbenz's lemma; Goldberg 1991);
/// `ln u` as fdlibm computes a logarithm, with `u = 2ᵏ·m`, `k ∈ {0, 1}`,
/// `m ∈ [√½, √2]`. NaN for NaN.
#[inline(always)]
pub fn ln_1p_unit(y: f64) -> f64 {
    let u = 1.0 + y;
    let c = (y - (u - 1.0)) / u;
    let big = u > std::f64::consts::SQRT_2;
    let k = if big { 1.0 } else { 0.0 };
    let m = if big { u * 0.5 } else { u };
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let mut r = LG[6];
    for &coefficient in LG[..6].iter().rev() {
        r = r * z + coefficient;
    }
    let r = r * z;
    let hfsq = 0.5 * f * f;
    let ln_u = k * LN2_HI - ((hfsq - (s * (hfsq + r) + k * LN2_LO)) - f);
    ln_u + c
}

/// `ln(1 + eˣ)` as `max(x, 0) + ln(1 + e^(−|x|))`: no overflow for large
/// `x`, full relative accuracy for very negative `x` (where it is `eˣ`).
#[inline(always)]
pub fn softplus(x: f64) -> f64 {
    let e = exp(-x.abs());
    // `max` would drop a NaN; the NaN reaches the sum through `e`.
    x.max(0.0) + ln_1p_unit(e)
}

/// The logistic sigmoid: `1 / (1 + e^(−x))` for `x ≥ 0` and
/// `eˣ / (1 + eˣ)` below, from the one exponential `e^(−|x|)`, so that
/// neither form overflows and small results keep their relative accuracy.
#[inline(always)]
pub fn sigmoid(x: f64) -> f64 {
    let e = exp(-x.abs());
    let d = 1.0 + e;
    if x >= 0.0 { 1.0 / d } else { e / d }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The distance in units in the last place between two finite floats
    /// of one sign.
    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn exp_is_within_one_ulp_of_the_library() {
        // 2·10⁵ points over the whole finite range, and the subnormal
        // results near the bottom (where an ulp is absolute, 2⁻¹⁰⁷⁴).
        let mut worst = 0;
        for k in 0..=200_000 {
            let x = -745.0 + 1455.0 * f64::from(k) / 200_000.0;
            let (got, want) = (exp(x), x.exp());
            assert!(got.is_finite() || want.is_infinite(), "exp({x}) = {got}");
            worst = worst.max(ulps(got, want));
        }
        assert!(worst <= 1, "exp: {worst} ulps");
        for x in [-745.1, -744.0, -740.0, -720.0, -708.5, -708.0] {
            assert!(ulps(exp(x), x.exp()) <= 1, "exp({x})");
        }
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(710.0), f64::INFINITY);
        assert_eq!(exp(f64::INFINITY), f64::INFINITY);
        assert_eq!(exp(-746.0), 0.0);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert!(exp(f64::NAN).is_nan());
    }

    #[test]
    fn ln_1p_unit_agrees_with_ln_1p() {
        // 10⁵ points spread over 16 decades of [0, 1]; 5e-16 relative
        // allows the few ulps of both implementations.
        let mut worst: f64 = 0.0;
        for k in 0..=100_000 {
            let y = 10f64.powf(-16.0 + 16.0 * f64::from(k) / 100_000.0);
            let (got, want) = (ln_1p_unit(y), y.ln_1p());
            worst = worst.max((got - want).abs() / want);
        }
        assert!(worst <= 5e-16, "ln_1p_unit: {worst:e}");
        assert_eq!(ln_1p_unit(0.0), 0.0);
        assert_eq!(ln_1p_unit(1e-300), 1e-300);
        assert!((ln_1p_unit(1.0) - std::f64::consts::LN_2).abs() <= 1e-16);
        assert!(ln_1p_unit(f64::NAN).is_nan());
    }

    #[test]
    fn softplus_and_sigmoid_in_both_tails() {
        // Against the direct formulas where those are exact to rounding.
        for x in [
            -700.0f64, -50.0, -37.5, -3.0, -1e-9, 0.0, 1e-9, 2.5, 18.5, 40.0, 700.0,
        ] {
            let want = if x > 30.0 {
                x + (-x).exp()
            } else {
                x.exp().ln_1p()
            };
            let got = softplus(x);
            assert!(
                (got - want).abs() <= 4e-16 * want,
                "softplus({x}) = {got}, want {want}"
            );
            let want = if x >= 0.0 {
                1.0 / (1.0 + (-x).exp())
            } else {
                x.exp() / (1.0 + x.exp())
            };
            let got = sigmoid(x);
            assert!(
                (got - want).abs() <= 4e-16 * want,
                "sigmoid({x}) = {got}, want {want}"
            );
        }
        assert_eq!(softplus(f64::INFINITY), f64::INFINITY);
        assert_eq!(softplus(f64::NEG_INFINITY), 0.0);
        assert!(softplus(f64::NAN).is_nan());
        assert_eq!(sigmoid(f64::INFINITY), 1.0);
        assert_eq!(sigmoid(f64::NEG_INFINITY), 0.0);
        assert!(sigmoid(f64::NAN).is_nan());
    }
}
