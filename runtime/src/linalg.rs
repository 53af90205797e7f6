//! Dense kernels on row-major slices, shared by the interpreter and the
//! JIT so that both compute every sum in one order and agree to the bit.
//!
//! The interpreter's `matvec`, `matvec_t`, `outer`, `matmul` and axis-sum
//! kernels and the JIT's direct calls for them (no `Value`s, no
//! allocation) both end here; so do the JIT's `expand` and `gather` (the
//! elementwise kernels are in `elementwise`).
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

/// `out = op(a) · op(b)` of shape `[m, n]`, where `op(a)` is `[m, k]` (`a`
/// is stored `[k, m]` when `transpose_a`) and `op(b)` is `[k, n]` (stored
/// `[n, k]` when `transpose_b`): one matrixmultiply GEMM reading the
/// transposes through their strides. Its blocking fixes the order of every
/// sum, the same for both back ends (and with its worker threads, which
/// split the output, not the sums).
pub fn matmul(
    a: &[f64],
    b: &[f64],
    out: &mut [f64],
    (m, k, n): (usize, usize, usize),
    (transpose_a, transpose_b): (bool, bool),
) {
    assert!(a.len() >= m * k && b.len() >= k * n && out.len() >= m * n);
    if k == 0 {
        out[..m * n].fill(0.0);
        return;
    }
    let (rsa, csa) = if transpose_a { (1, m) } else { (k, 1) };
    let (rsb, csb) = if transpose_b { (1, k) } else { (n, 1) };
    // SAFETY: the asserts above keep every access of the strided operands
    // and of the row-major `out` in bounds; `out` does not alias them.
    unsafe {
        matrixmultiply::dgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            0.0,
            out.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// Sums `a`, of shape `[outer, len, inner]`, along its middle axis into
/// `out`, of shape `[outer, inner]`: every lane from `0.0` in ascending
/// order (as `sum_in_order`), rows added whole so the lanes vectorize.
pub fn sum_axis(a: &[f64], out: &mut [f64], (outer, len, inner): (usize, usize, usize)) {
    for o in 0..outer {
        let acc = &mut out[o * inner..(o + 1) * inner];
        acc.fill(0.0);
        let block = &a[o * len * inner..(o + 1) * len * inner];
        for row in block.chunks_exact(inner.max(1)).take(len) {
            for (s, &x) in acc.iter_mut().zip(row) {
                *s += x;
            }
        }
    }
}

/// Adds elements `k0 .. k0 + xs.len()` of a tensor of shape `[outer, len,
/// inner]` (row-major, `xs` holding just those) into its sum along the
/// middle axis, `out` (`[outer, inner]`): called on consecutive parts of
/// the tensor, in order, on an `out` of zeros, it adds every lane in the
/// order `sum_axis` does, so the sums are the same to the bit.
pub fn sum_axis_part(xs: &[f64], out: &mut [f64], k0: usize, (len, inner): (usize, usize)) {
    let block = (len * inner).max(1);
    let mut i = 0;
    while i < xs.len() {
        let k = k0 + i;
        let o = k / block;
        if inner == 1 {
            // The rest of one lane, added in order.
            let take = (block - k % block).min(xs.len() - i);
            let mut acc = out[o];
            for &x in &xs[i..i + take] {
                acc += x;
            }
            out[o] = acc;
            i += take;
        } else {
            // The rest of one row of `inner` lanes, added lane by lane.
            let j = k % inner;
            let take = (inner - j).min(xs.len() - i);
            let at = o * inner + j;
            for (s, &x) in out[at..at + take].iter_mut().zip(&xs[i..i + take]) {
                *s += x;
            }
            i += take;
        }
    }
}

/// Repeats each of the `outer` blocks of `block` bytes of `a` `n` times
/// into `out` (`expand` along an axis, on raw elements of any type).
pub fn expand(a: &[u8], out: &mut [u8], (outer, n, block): (usize, usize, usize)) {
    for o in 0..outer {
        let src = &a[o * block..(o + 1) * block];
        for j in 0..n {
            let at = (o * n + j) * block;
            out[at..at + block].copy_from_slice(src);
        }
    }
}

/// Copies row `idx[j]` of `t` (rows of `row` bytes, `t.len() / row` of
/// them) to row `j` of `out`; the first index out of range is the error.
pub fn gather(t: &[u8], idx: &[i64], out: &mut [u8], row: usize) -> Result<(), i64> {
    let rows = t.len().checked_div(row).unwrap_or(0);
    for (j, &i) in idx.iter().enumerate() {
        if i < 0 || i as usize >= rows {
            return Err(i);
        }
        let i = i as usize;
        out[j * row..(j + 1) * row].copy_from_slice(&t[i * row..(i + 1) * row]);
    }
    Ok(())
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

    /// The element `[i, j]` of `op(x)` for `x` stored row-major as `rows ×
    /// cols` (transposed when `t`).
    fn at(x: &[f64], cols: usize, t: bool, i: usize, j: usize) -> f64 {
        if t { x[j * cols + i] } else { x[i * cols + j] }
    }

    #[test]
    fn matmul_matches_its_definition_for_every_transpose() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.91).cos()).collect();
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let mut out = vec![f64::NAN; m * n];
            matmul(&a, &b, &mut out, (m, k, n), (ta, tb));
            let a_cols = if ta { m } else { k };
            let b_cols = if tb { k } else { n };
            for i in 0..m {
                for j in 0..n {
                    let want: f64 = (0..k)
                        .map(|l| at(&a, a_cols, ta, i, l) * at(&b, b_cols, tb, l, j))
                        .sum();
                    assert!((out[i * n + j] - want).abs() < 1e-12, "{ta} {tb} [{i},{j}]");
                }
            }
        }
        // An empty inner dimension gives zeros, whatever `out` held.
        let mut out = vec![f64::NAN; 6];
        matmul(&[], &[], &mut out, (2, 0, 3), (false, false));
        assert_eq!(out, vec![0.0; 6]);
    }

    #[test]
    fn axis_sums_add_each_lane_in_order() {
        // [2, 3, 4] summed along the middle axis: out[o, i] = Σ_l a[o, l, i].
        let a: Vec<f64> = (0..24).map(|x| f64::from(x) * 0.5 - 3.0).collect();
        let mut out = vec![f64::NAN; 8];
        sum_axis(&a, &mut out, (2, 3, 4));
        for o in 0..2 {
            for i in 0..4 {
                let lane = (0..3).map(|l| a[(o * 3 + l) * 4 + i]);
                let want = lane.fold(0.0, |s, x| s + x);
                assert_eq!(out[o * 4 + i].to_bits(), want.to_bits());
            }
        }
        // The last axis (inner = 1) and a lane that must round in order.
        let b = [1e16, 1.0, -1e16, 1.0];
        let mut one = [f64::NAN];
        sum_axis(&b, &mut one, (1, 4, 1));
        assert_eq!(one[0], ((1e16 + 1.0) - 1e16) + 1.0);
    }

    #[test]
    fn axis_sums_by_parts_are_the_axis_sums() {
        // Parts that split lanes and rows anywhere give `sum_axis`'s bits.
        let a: Vec<f64> = (0..60).map(|x| (f64::from(x) * 0.77).sin() * 1e3).collect();
        for dims in [(3, 5, 4), (2, 30, 1), (1, 6, 10), (60, 1, 1)] {
            let (outer, len, inner) = dims;
            let mut want = vec![f64::NAN; outer * inner];
            sum_axis(&a, &mut want, dims);
            for part in [1, 7, 13, 60] {
                let mut got = vec![0.0; outer * inner];
                for (p, xs) in a.chunks(part).enumerate() {
                    sum_axis_part(xs, &mut got, p * part, (len, inner));
                }
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&want), "{dims:?} in parts of {part}");
            }
        }
    }

    #[test]
    fn expand_and_gather_move_whole_rows() {
        let a: Vec<u8> = (0..6).collect();
        let mut out = vec![0u8; 18];
        expand(&a, &mut out, (2, 3, 3));
        assert_eq!(out, [0, 1, 2, 0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5, 3, 4, 5]);
        let mut rows = vec![0u8; 6];
        assert_eq!(gather(&a, &[1, 0, 1], &mut rows, 2), Ok(()));
        assert_eq!(rows, [2, 3, 0, 1, 2, 3]);
        assert_eq!(gather(&a, &[0, 3], &mut rows, 2), Err(3));
        assert_eq!(gather(&a, &[-1], &mut rows, 2), Err(-1));
    }
}
