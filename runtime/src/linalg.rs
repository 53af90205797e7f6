//! Dense kernels on row-major slices, shared by the interpreter and the
//! JIT so that both compute every sum in one order and agree to the bit.
//!
//! The interpreter's `matvec`, `matvec_t` and `outer` kernels and the
//! JIT's direct calls for them (no `Value`s, no allocation) both end here.
//! The loops are written for the autovectorizer: a dot product keeps four
//! independent partial sums (lanes `k mod 4`), combined as
//! `(s₀ + s₁) + (s₂ + s₃)` and then the tail in order; the transposed
//! product accumulates rows in ascending order (`out += v[i] · m[i, :]`).

/// `Σⱼ a[j]·b[j]` in the lane order described in the module doc.
#[inline]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut lanes = [0.0_f64; 4];
    let chunks = n / 4;
    for k in 0..chunks {
        for (l, lane) in lanes.iter_mut().enumerate() {
            *lane += a[4 * k + l] * b[4 * k + l];
        }
    }
    let mut sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for j in 4 * chunks..n {
        sum += a[j] * b[j];
    }
    sum
}

/// `out = m · v` for `m` of shape `[rows, cols]`.
pub fn matvec(m: &[f64], v: &[f64], out: &mut [f64], rows: usize, cols: usize) {
    for (i, o) in out.iter_mut().enumerate().take(rows) {
        *o = dot(&m[i * cols..(i + 1) * cols], v);
    }
}

/// `out = mᵀ · v` for `m` of shape `[rows, cols]` (`out` has `cols`
/// elements, `v` has `rows`).
pub fn matvec_t(m: &[f64], v: &[f64], out: &mut [f64], rows: usize, cols: usize) {
    out[..cols].fill(0.0);
    for i in 0..rows {
        let vi = v[i];
        let row = &m[i * cols..(i + 1) * cols];
        for (o, x) in out[..cols].iter_mut().zip(row) {
            *o += vi * x;
        }
    }
}

/// `out = a bᵀ`, of shape `[a.len(), b.len()]`.
pub fn outer(a: &[f64], b: &[f64], out: &mut [f64]) {
    let cols = b.len();
    for (i, &x) in a.iter().enumerate() {
        for (o, &y) in out[i * cols..(i + 1) * cols].iter_mut().zip(b) {
            *o = x * y;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_match_their_definitions() {
        let m: Vec<f64> = (0..15).map(|k| (k as f64 * 0.7).sin()).collect();
        let v: Vec<f64> = (0..5).map(|k| k as f64 - 1.5).collect();
        let w: Vec<f64> = (0..3).map(|k| 0.5 * k as f64 + 0.25).collect();
        let mut out = vec![0.0; 3];
        matvec(&m, &v, &mut out, 3, 5);
        for i in 0..3 {
            let want: f64 = (0..5).map(|j| m[i * 5 + j] * v[j]).sum();
            assert!((out[i] - want).abs() < 1e-12);
        }
        let mut out_t = vec![7.0; 5];
        matvec_t(&m, &w, &mut out_t, 3, 5);
        for j in 0..5 {
            let want: f64 = (0..3).map(|i| m[i * 5 + j] * w[i]).sum();
            assert!((out_t[j] - want).abs() < 1e-12);
        }
        let mut o = vec![0.0; 15];
        outer(&w, &v, &mut o);
        assert_eq!(o[2 * 5 + 3], w[2] * v[3]);
    }
}
