//! Counter-based randomness.
//!
//! Every random draw of a vprog program is a pure function of a *key*: the
//! run's seed, the optimization step, the particle, the site (a static id
//! given to each random choice by the compiler, plus a sub-stream for sites
//! that draw several variates) and the indices of the loops around the site.
//! Nothing is carried from one draw to the next, so
//!
//! * results do not depend on how particles are spread over threads;
//! * re-executing a program with one site forced to another value (the
//!   `enum` and `mvd` strategies) reproduces every other draw exactly, which
//!   couples the branches and keeps their difference low-variance.
//!
//! A key is hashed into 64 bits with a strong mixer (the SplitMix64
//! finalizer applied after each word, as in `std`'s `RandomState`-free
//! hashing of counters); the draw then reads a SplitMix64 stream seeded with
//! that hash. SplitMix64 passes BigCrush and is a bijection of its counter,
//! which is all a per-draw stream needs.

use rand::TryRng;
use std::convert::Infallible;

/// The SplitMix64 output function: a bijective 64-bit mixer.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// Hashes a sequence of words into one key. Order matters; the length is
/// folded in so that `[a]` and `[a, 0]` differ.
#[inline]
pub fn hash_words(words: &[u64]) -> u64 {
    let mut h = mix64(words.len() as u64 ^ 0x5851_f42d_4c95_7f2d);
    for &w in words {
        h = mix64(h.wrapping_add(GOLDEN_GAMMA) ^ w);
    }
    h
}

/// The part of a key fixed for one run of a program: seed, step, particle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RunKey {
    /// The run's seed.
    pub seed: u64,
    /// The optimization step (0 for estimates outside `fit`).
    pub step: u64,
    /// The particle index within the step.
    pub particle: u64,
}

impl RunKey {
    /// The key of run `(seed, step, particle)`.
    pub fn new(seed: u64, step: u64, particle: u64) -> RunKey {
        RunKey {
            seed,
            step,
            particle,
        }
    }

    /// The stream of the draw at `site`, sub-stream `stream`, inside loops
    /// with the given indices (outermost first).
    pub fn site_stream(&self, site: u32, stream: u32, loop_indices: &[i64]) -> SiteRng {
        stream_from_base(self.base(), site, stream, loop_indices)
    }

    /// The hash of the run's part of every key; with
    /// [`stream_from_base`] it gives the same streams as
    /// [`RunKey::site_stream`] without rehashing the run for each draw.
    pub fn base(&self) -> u64 {
        hash_words(&[self.seed, self.step, self.particle])
    }
}

/// The stream of `(site, stream, loop indices)` in the run whose
/// [`RunKey::base`] is `base`.
#[inline]
pub fn stream_from_base(base: u64, site: u32, stream: u32, loop_indices: &[i64]) -> SiteRng {
    let mut h = mix64(base ^ ((site as u64) << 32 | stream as u64));
    for &i in loop_indices {
        h = mix64(h.wrapping_add(GOLDEN_GAMMA) ^ i as u64);
    }
    SiteRng { state: h }
}

/// The site id reserved for the minibatches of subsampled plates (sites
/// of random choices are numbered from 0 within a function).
pub const SUBSAMPLE_SITE: u32 = u32::MAX;

/// The minibatch of a subsampled plate over `0..n` in the run whose
/// [`RunKey::base`] is `base`: `m` distinct indices of `0..n`, uniformly
/// (a partial Fisher–Yates shuffle, each position's swap drawn unbiasedly),
/// in the order drawn. Keyed by `(n, m)` only, so every plate over `0..n`
/// with subsample `m` in one run draws the same minibatch.
pub fn subsample(base: u64, n: usize, m: usize) -> Vec<i64> {
    use rand::RngExt;
    let mut rng = stream_from_base(base, SUBSAMPLE_SITE, 0, &[n as i64, m as i64]);
    // The permutation's moved entries; every other position holds itself.
    let mut moved: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(m);
    for k in 0..m.min(n) {
        let j = rng.random_range(k..n);
        let at_j = moved.get(&j).copied().unwrap_or(j);
        let at_k = moved.get(&k).copied().unwrap_or(k);
        moved.insert(j, at_k);
        out.push(at_j as i64);
    }
    out
}

/// A SplitMix64 stream for one draw. Implements [`rand::Rng`], so every
/// `rand_distr` sampler can read from it.
#[derive(Debug)]
pub struct SiteRng {
    state: u64,
}

impl SiteRng {
    /// A stream seeded directly with `state` (tests and tools).
    pub fn from_state(state: u64) -> SiteRng {
        SiteRng { state }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_word(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        mix64(self.state)
    }

    /// A uniform draw from the open interval (0, 1): never 0, never 1, so
    /// `ln(u)` and `ln(1 - u)` are always finite.
    #[inline]
    pub fn open01(&mut self) -> f64 {
        // 52 random mantissa bits, offset by half an ulp.
        ((self.next_word() >> 12) as f64 + 0.5) * (1.0 / (1u64 << 52) as f64)
    }
}

impl TryRng for SiteRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.next_word() >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.next_word())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.next_word().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_depend_on_every_part_of_the_key() {
        let base = RunKey::new(1, 2, 3).site_stream(4, 0, &[5]).next_word();
        let variants = [
            RunKey::new(9, 2, 3).site_stream(4, 0, &[5]).next_word(),
            RunKey::new(1, 9, 3).site_stream(4, 0, &[5]).next_word(),
            RunKey::new(1, 2, 9).site_stream(4, 0, &[5]).next_word(),
            RunKey::new(1, 2, 3).site_stream(9, 0, &[5]).next_word(),
            RunKey::new(1, 2, 3).site_stream(4, 1, &[5]).next_word(),
            RunKey::new(1, 2, 3).site_stream(4, 0, &[6]).next_word(),
            RunKey::new(1, 2, 3).site_stream(4, 0, &[5, 0]).next_word(),
        ];
        for v in variants {
            assert_ne!(v, base);
        }
        assert_eq!(
            base,
            RunKey::new(1, 2, 3).site_stream(4, 0, &[5]).next_word()
        );
    }

    #[test]
    fn open01_is_uniform_and_strictly_inside() {
        // 10^5 draws: the mean of U(0,1) has standard error 0.29/sqrt(n)
        // ≈ 9.1e-4; we allow 5 standard errors.
        let mut rng = SiteRng::from_state(42);
        let n = 100_000;
        let mut sum = 0.0;
        for _ in 0..n {
            let u = rng.open01();
            assert!(u > 0.0 && u < 1.0);
            sum += u;
        }
        assert!((sum / n as f64 - 0.5).abs() < 5.0 * 0.2887 / (n as f64).sqrt());
    }
}
