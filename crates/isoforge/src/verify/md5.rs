//! MD5 (RFC 1321), arranged for a short dependency chain per step.
//!
//! Every MD5 step depends on the one before it, so a single stream runs at
//! the latency of that chain, not at the width of the core. Each step is
//! `a = b + rotl(a + m + k + f(b, c, d), s)`, where `b` is the value the
//! previous step just produced. Only the work that needs `b` is on the
//! chain; the code is written so that everything else is ready before `b`:
//!
//! - `a + m + k` is summed first (`a` is four steps old).
//! - F is `d ^ (b & (c ^ d))`: `c ^ d` is ready early, two operations wait
//!   for `b`.
//! - G is `(b & d) + (c & !d)`: the two terms have no bit in common, so `+`
//!   gives the same value as `|`, and `c & !d` joins the early sum; one
//!   operation waits for `b`.
//! - H is `b ^ (c ^ d)`: one operation waits for `b`.
//! - I is `c ^ (b | !d)`: `!d` is ready early, two operations wait for `b`.
//!
//! With the addition, the rotation and the final `+ b`, that is 5, 4, 4 and 5
//! dependent operations per step in the four rounds, 4.5 cycles per byte on
//! a core that does one such operation per cycle.
//!
//! The round constants are read through [`core::hint::black_box`]: as
//! immediates, the compiler moves the `+ k` after `+ f(..)` (it puts
//! constants last in a chain of additions), which adds one operation to the
//! chain of every step. Only the speed depends on this. The state stays in
//! locals across the blocks of one `compress` call rather than going through
//! memory between blocks.
//!
//! The tests check this against the `md-5` crate.

/// Bytes per block.
const BLOCK: usize = 64;

/// Initial state, RFC 1321 §3.3.
const INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// Round constants, RFC 1321 §3.4: `floor(abs(sin(i + 1)) * 2^32)`.
const K: [u32; 64] = [
    0xd76a_a478,
    0xe8c7_b756,
    0x2420_70db,
    0xc1bd_ceee,
    0xf57c_0faf,
    0x4787_c62a,
    0xa830_4613,
    0xfd46_9501,
    0x6980_98d8,
    0x8b44_f7af,
    0xffff_5bb1,
    0x895c_d7be,
    0x6b90_1122,
    0xfd98_7193,
    0xa679_438e,
    0x49b4_0821,
    0xf61e_2562,
    0xc040_b340,
    0x265e_5a51,
    0xe9b6_c7aa,
    0xd62f_105d,
    0x0244_1453,
    0xd8a1_e681,
    0xe7d3_fbc8,
    0x21e1_cde6,
    0xc337_07d6,
    0xf4d5_0d87,
    0x455a_14ed,
    0xa9e3_e905,
    0xfcef_a3f8,
    0x676f_02d9,
    0x8d2a_4c8a,
    0xfffa_3942,
    0x8771_f681,
    0x6d9d_6122,
    0xfde5_380c,
    0xa4be_ea44,
    0x4bde_cfa9,
    0xf6bb_4b60,
    0xbebf_bc70,
    0x289b_7ec6,
    0xeaa1_27fa,
    0xd4ef_3085,
    0x0488_1d05,
    0xd9d4_d039,
    0xe6db_99e5,
    0x1fa2_7cf8,
    0xc4ac_5665,
    0xf429_2244,
    0x432a_ff97,
    0xab94_23a7,
    0xfc93_a039,
    0x655b_59c3,
    0x8f0c_cc92,
    0xffef_f47d,
    0x8584_5dd1,
    0x6fa8_7e4f,
    0xfe2c_e6e0,
    0xa301_4314,
    0x4e08_11a1,
    0xf753_7e82,
    0xbd3a_f235,
    0x2ad7_d2bb,
    0xeb86_d391,
];

/// Round 1 step; `mk` is `m + k`.
#[inline(always)]
fn step_f<const S: u32>(a: u32, b: u32, c: u32, d: u32, mk: u32) -> u32 {
    let early = a.wrapping_add(mk);
    early
        .wrapping_add(d ^ (b & (c ^ d)))
        .rotate_left(S)
        .wrapping_add(b)
}

/// Round 2 step.
#[inline(always)]
fn step_g<const S: u32>(a: u32, b: u32, c: u32, d: u32, mk: u32) -> u32 {
    let early = a.wrapping_add(mk).wrapping_add(c & !d);
    early.wrapping_add(b & d).rotate_left(S).wrapping_add(b)
}

/// Round 3 step.
#[inline(always)]
fn step_h<const S: u32>(a: u32, b: u32, c: u32, d: u32, mk: u32) -> u32 {
    let early = a.wrapping_add(mk);
    early
        .wrapping_add(b ^ (c ^ d))
        .rotate_left(S)
        .wrapping_add(b)
}

/// Round 4 step.
#[inline(always)]
fn step_i<const S: u32>(a: u32, b: u32, c: u32, d: u32, mk: u32) -> u32 {
    let early = a.wrapping_add(mk);
    early
        .wrapping_add(c ^ (b | !d))
        .rotate_left(S)
        .wrapping_add(b)
}

/// Runs the compression function over `blocks`.
fn compress(state: &mut [u32; 4], blocks: &[[u8; BLOCK]]) {
    // Opaque to the optimiser, so the constants stay loads that can be added
    // early (see the module docs).
    let k: &[u32; 64] = core::hint::black_box(&K);
    let [mut sa, mut sb, mut sc, mut sd] = *state;
    for block in blocks {
        let mut m = [0u32; 16];
        for (w, bytes) in m.iter_mut().zip(block.as_chunks::<4>().0) {
            *w = u32::from_le_bytes(*bytes);
        }
        let (mut a, mut b, mut c, mut d) = (sa, sb, sc, sd);
        // Four steps with word indices `$i` and shifts `$s`, constants from
        // `k[$k..$k + 4]`.
        macro_rules! four {
            ($step:ident, $k:literal, [$i0:literal, $i1:literal, $i2:literal, $i3:literal],
             [$s0:literal, $s1:literal, $s2:literal, $s3:literal]) => {
                a = $step::<$s0>(a, b, c, d, m[$i0].wrapping_add(k[$k]));
                d = $step::<$s1>(d, a, b, c, m[$i1].wrapping_add(k[$k + 1]));
                c = $step::<$s2>(c, d, a, b, m[$i2].wrapping_add(k[$k + 2]));
                b = $step::<$s3>(b, c, d, a, m[$i3].wrapping_add(k[$k + 3]));
            };
        }
        four!(step_f, 0, [0, 1, 2, 3], [7, 12, 17, 22]);
        four!(step_f, 4, [4, 5, 6, 7], [7, 12, 17, 22]);
        four!(step_f, 8, [8, 9, 10, 11], [7, 12, 17, 22]);
        four!(step_f, 12, [12, 13, 14, 15], [7, 12, 17, 22]);
        four!(step_g, 16, [1, 6, 11, 0], [5, 9, 14, 20]);
        four!(step_g, 20, [5, 10, 15, 4], [5, 9, 14, 20]);
        four!(step_g, 24, [9, 14, 3, 8], [5, 9, 14, 20]);
        four!(step_g, 28, [13, 2, 7, 12], [5, 9, 14, 20]);
        four!(step_h, 32, [5, 8, 11, 14], [4, 11, 16, 23]);
        four!(step_h, 36, [1, 4, 7, 10], [4, 11, 16, 23]);
        four!(step_h, 40, [13, 0, 3, 6], [4, 11, 16, 23]);
        four!(step_h, 44, [9, 12, 15, 2], [4, 11, 16, 23]);
        four!(step_i, 48, [0, 7, 14, 5], [6, 10, 15, 21]);
        four!(step_i, 52, [12, 3, 10, 1], [6, 10, 15, 21]);
        four!(step_i, 56, [8, 15, 6, 13], [6, 10, 15, 21]);
        four!(step_i, 60, [4, 11, 2, 9], [6, 10, 15, 21]);
        sa = sa.wrapping_add(a);
        sb = sb.wrapping_add(b);
        sc = sc.wrapping_add(c);
        sd = sd.wrapping_add(d);
    }
    *state = [sa, sb, sc, sd];
}

/// A running MD5.
#[derive(Clone)]
pub(crate) struct Md5 {
    state: [u32; 4],
    /// Bytes fed so far.
    len: u64,
    /// The start of a block not yet compressed; `buf[..len % 64]` is valid.
    buf: [u8; BLOCK],
}

impl Default for Md5 {
    fn default() -> Md5 {
        Md5::new()
    }
}

impl Md5 {
    pub(crate) fn new() -> Md5 {
        Md5 {
            state: INIT,
            len: 0,
            buf: [0; BLOCK],
        }
    }

    /// Index in `buf` of the next byte.
    fn buffered(&self) -> usize {
        // Below 64, so the conversion is exact.
        (self.len % BLOCK as u64) as usize
    }

    pub(crate) fn update(&mut self, mut data: &[u8]) {
        let have = self.buffered();
        self.len = self.len.wrapping_add(data.len() as u64);
        if have > 0 {
            let take = (BLOCK - have).min(data.len());
            let (head, rest) = data.split_at(take);
            if let Some(dst) = self.buf.get_mut(have..have + take) {
                dst.copy_from_slice(head);
            }
            data = rest;
            if have + take < BLOCK {
                return;
            }
            compress(&mut self.state, &[self.buf]);
        }
        let (blocks, rest) = data.as_chunks::<BLOCK>();
        compress(&mut self.state, blocks);
        if let Some(dst) = self.buf.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
    }

    /// The digest of everything fed.
    pub(crate) fn finalize(mut self) -> [u8; 16] {
        let bits = self.len.wrapping_mul(8);
        let have = self.buffered();
        // RFC 1321 §3.1-3.2: a 1 bit, zeros up to 56 mod 64, then the length
        // in bits, little-endian.
        let mut tail = [0u8; 2 * BLOCK];
        let n = if have < BLOCK - 8 { BLOCK } else { 2 * BLOCK };
        if let Some(dst) = tail.get_mut(..have) {
            dst.copy_from_slice(self.buf.get(..have).unwrap_or_default());
        }
        if let Some(one) = tail.get_mut(have) {
            *one = 0x80;
        }
        if let Some(dst) = tail.get_mut(n - 8..n) {
            dst.copy_from_slice(&bits.to_le_bytes());
        }
        compress(
            &mut self.state,
            tail.get(..n).unwrap_or_default().as_chunks().0,
        );
        let mut out = [0u8; 16];
        for (dst, word) in out.as_chunks_mut::<4>().0.iter_mut().zip(self.state) {
            *dst = word.to_le_bytes();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::md5 as md5_crate;
    use md5_crate::Digest as _;
    use proptest::prelude::*;
    use proptest::test_runner::{RngAlgorithm, TestRng};

    fn md5(data: &[u8]) -> [u8; 16] {
        let mut h = Md5::new();
        h.update(data);
        h.finalize()
    }

    fn reference(data: &[u8]) -> [u8; 16] {
        md5_crate::Md5::digest(data).into()
    }

    /// `len` bytes from `rng`.
    fn random(rng: &mut TestRng, len: usize) -> Vec<u8> {
        let mut data = vec![0; len];
        rng.fill_bytes(&mut data);
        data
    }

    #[test]
    fn rfc1321_test_suite() {
        // RFC 1321 §A.5.
        let cases: [(&str, &str); 7] = [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                "abcdefghijklmnopqrstuvwxyz",
                "c3fcd3d76192e4007dfb496cca67e13b",
            ),
            (
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                "d174ab98d277d9f5a5611c2c9f419d9f",
            ),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                base16ct::lower::encode_string(&md5(input.as_bytes())),
                want,
                "{input:?}"
            );
        }
    }

    #[test]
    fn a_million_a() {
        assert_eq!(
            base16ct::lower::encode_string(&md5(&vec![b'a'; 1_000_000])),
            "7707d6ae4e027c70eea2a935c2296f21"
        );
    }

    #[test]
    fn every_length_up_to_300() {
        let mut rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
        for len in 0..=300 {
            let data = random(&mut rng, len);
            assert_eq!(md5(&data), reference(&data), "length {len}");
        }
    }

    #[test]
    fn large_inputs_in_odd_pieces() {
        let mut rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
        let data = random(&mut rng, (8 << 20) + 37);
        let want = reference(&data);
        assert_eq!(md5(&data), want);
        let mut h = Md5::new();
        let mut rest = data.as_slice();
        let mut step = 1;
        while !rest.is_empty() {
            let (piece, tail) = rest.split_at(step.min(rest.len()));
            h.update(piece);
            rest = tail;
            step = step * 7 % 100_003 + 1;
        }
        assert_eq!(h.finalize(), want);
    }

    #[test]
    fn clone_keeps_the_running_state() {
        let data = random(&mut TestRng::deterministic_rng(RngAlgorithm::ChaCha), 1000);
        let mut h = Md5::new();
        h.update(&data[..500]);
        let mid = h.clone().finalize();
        h.update(&data[500..]);
        assert_eq!(mid, reference(&data[..500]));
        assert_eq!(h.finalize(), reference(&data));
    }

    proptest! {
        #[test]
        fn matches_md5_crate(
            data in proptest::collection::vec(any::<u8>(), 0..=300),
            cuts in proptest::collection::vec(0usize..=300, 0..4),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            let mut h = Md5::new();
            let mut at = 0;
            for cut in cuts {
                h.update(&data[at..cut]);
                at = cut;
            }
            h.update(&data[at..]);
            prop_assert_eq!(h.finalize(), reference(&data));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn matches_md5_crate_large(len in 0usize..(1 << 20), seed in any::<[u8; 32]>()) {
            let data = random(&mut TestRng::from_seed(RngAlgorithm::ChaCha, &seed), len);
            prop_assert_eq!(md5(&data), reference(&data));
        }
    }
}
