//! The zero-knowledge proof of liabilities: one AIR on Plonky3 uni-stark (KoalaBear, ZK via the
//! hiding FRI PCS). See docs/liabilities-air.md for the layout and docs/security.md for the bounds.

use core::borrow::BorrowMut;
use core::mem::MaybeUninit;

use p3_air::{Air, AirBuilder, BaseAir, WindowAccess};
use p3_challenger::{
    CanObserve, CanSample, CanSampleBits, DuplexChallenger, FieldChallenger, GrindingChallenger,
};
use p3_commit::ExtensionMmcs;
use p3_dft::Radix2DitParallel;
use p3_field::extension::BinomialExtensionField;
use p3_field::{Field, PackedValue, PrimeCharacteristicRing, PrimeField32, PrimeField64};
use p3_fri::{FriParameters, HidingFriPcs};
use p3_koala_bear::{
    default_koalabear_poseidon2_16, default_koalabear_poseidon2_24, GenericPoseidon2LinearLayersKoalaBear, KoalaBear,
    Poseidon2KoalaBear, KOALABEAR_POSEIDON2_RC_24_EXTERNAL_FINAL,
    KOALABEAR_POSEIDON2_RC_24_EXTERNAL_INITIAL, KOALABEAR_POSEIDON2_RC_24_INTERNAL,
};
use p3_matrix::dense::RowMajorMatrix;
use p3_maybe_rayon::prelude::*;
use p3_merkle_tree::MerkleTreeHidingMmcs;
use p3_poseidon2_air::{generate_trace_rows_for_perm, Poseidon2Air, Poseidon2Cols, RoundConstants};
use p3_symmetric::{PaddingFreeSponge, Permutation, TruncatedPermutation};
use p3_uni_stark::{
    prove_with_preprocessed, setup_preprocessed, verify_with_preprocessed, PreprocessedProverData,
    PreprocessedVerifierKey,
    StarkConfig, SubAirBuilder,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use rand10::rngs::ChaCha20Rng;
use rand10::{RngExt, SeedableRng};

use crate::hash::{self, Digest, F};

// ---------------------------------------------------------------- parameters
pub const MAX_ASSETS: usize = 32;
/// Tall trees (h > 14) sum amounts in 12-bit chunks (bits 12c..12c+12 of the 64-bit amount,
/// c = 0..5; the last chunk has 4 bits). A chunk sum is < 2^12 * 2^h and must stay below
/// p = 2^31 - 2^24 + 1: (2^12 - 1) * 2^18 < p, (2^12 - 1) * 2^19 > p, so h <= 18.
pub const MAX_TREE_HEIGHT: usize = 18;
pub const CHUNK_BITS: usize = 12;
pub const CHUNKS: usize = 6;
/// Trees of height <= 14 (every shard of the default size) sum whole 16-bit limbs instead:
/// (2^16 - 1) * 2^14 < p, so four accumulators per amount, not six.
pub const LIMB_SUM_MAX_HEIGHT: usize = 14;

/// Chunk width used to sum amounts in a tree of height h: 16 bits for h <= 14, else 12 bits.
pub const fn chunk_bits(h: usize) -> usize {
    if h <= LIMB_SUM_MAX_HEIGHT { 16 } else { CHUNK_BITS }
}

/// Number of chunks per 64-bit amount in a tree of height h (4 or 6).
pub const fn chunks(h: usize) -> usize {
    64usize.div_ceil(chunk_bits(h))
}
/// The hiding PCS needs enough rows to mask its openings.
pub const MIN_LOG_ROWS: usize = 10;
pub const MAX_ROUND_ID_BYTES: usize = 63;
const RID_ELEMS: usize = 21;
/// Bound on each solvency weight: p_a*h_a < 2^64 and 10_000*p_a < 2^64.
pub const MAX_WEIGHT_BITS: u32 = 64;
pub const MAX_HAIRCUT_BP: u64 = 10_000;

pub const PROOF_MAGIC: &[u8; 8] = b"PORLIAB\0";
pub const PROOF_VERSION: u32 = 4;
/// Sort keys are 60-bit: key = c0 * 2^30 + c1 with c0, c1 < 2^30.
pub const KEY_SPACE: u64 = 1 << 60;

pub const LOG_BLOWUP: usize = 2;
pub const NUM_QUERIES: usize = 38;
pub const QUERY_POW_BITS: usize = 24;
pub const COMMIT_POW_BITS: usize = 0;
pub const BATCH_POW_BITS: usize = 10;
pub const NUM_RANDOM_CODEWORDS: usize = 4;
/// FRI folding arity 2^MAX_LOG_ARITY and final polynomial length 2^LOG_FINAL_POLY_LEN: fewer
/// commit rounds and shorter openings (proof size), no change to the conjectured bits.
pub const MAX_LOG_ARITY: usize = 3;
pub const LOG_FINAL_POLY_LEN: usize = 3;

// ---------------------------------------------------------------- layout
const SBOX_DEGREE: u64 = 3;
const HALF_FULL: usize = 4;
const PARTIAL: usize = 23;
const W: usize = 24;
type P2Air = Poseidon2Air<F, GenericPoseidon2LinearLayersKoalaBear, W, SBOX_DEGREE, 0, HALF_FULL, PARTIAL>;
type P2Cols<T> = Poseidon2Cols<T, W, SBOX_DEGREE, 0, HALF_FULL, PARTIAL>;
pub const NP: usize = W + 2 * HALF_FULL * W + PARTIAL; // 239
const OUT: usize = NP - W;
/// Range checks use base-4 digits: each digit column d satisfies d(d-1)(d-2)(d-3) = 0 (degree
/// 4, which costs no extra quotient chunk next to the degree-3 Poseidon2 constraints in ZK mode),
/// so a row carries 128 digit columns for 256 bits of range-checked values. Every range-checked
/// field starts at an even bit offset and has an even width.
pub const DIG: usize = NP;
pub const NDIG: usize = 128;
const NPOS: usize = 15; // 8-bit positions of the per-customer solvency value
const CARRY_BITS: usize = 20;
const CARRY_OFF: u64 = 1 << 19;
/// Sort-key limbs (key = c0 * 2^30 + c1): widths and bit offsets inside the 60-bit key. Limbs
/// 0, 1 are c1's low 16 and high 14 bits, limbs 2, 3 are c0's.
pub const KEY_LIMB_BITS: [usize; 4] = [16, 14, 16, 14];
pub const KEY_LIMB_OFF: [usize; 4] = [0, 16, 30, 46];
/// Bit offsets in the digit columns of block-0 rows: c0 (0..30), c1 (30..60), the key
/// difference limbs d_t (60..120), then the three borrows, one digit each (bits 120, 122, 124).
const KD_OFF: [usize; 4] = [60, 76, 90, 106];
const BORROW_BIT: [usize; 3] = [120, 122, 124];

pub fn key_limb(key: u64, t: usize) -> u64 {
    (key >> KEY_LIMB_OFF[t]) & ((1u64 << KEY_LIMB_BITS[t]) - 1)
}

// preprocessed columns
// (first block = blk_0, last block = blk_{nb-1}, continuation block = sum_{b>=1} blk_b: derived
// from the one-hot block index, not separate columns)
const P_KCMP: usize = 0;
const P_SA: usize = 1;
const P_MERGE: usize = 2;
const P_BLK: usize = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Block(usize),
    SolvA,
    SolvB,
    Merge,
    Pad,
}

#[derive(Clone, Debug)]
pub struct Layout {
    pub k: usize,
    pub h: usize,
    pub nb: usize,
    pub acc: usize,
    /// chunk width in bits and chunks per amount (see [`chunk_bits`])
    pub cb: usize,
    pub nch: usize,
    pub v: usize,
    pub kc: usize,
    pub st: usize,
    pub depth: usize,
    pub width: usize,
    pub p_pw: usize,
    pub p_width: usize,
    pub rows_per_leaf: usize,
    pub n_rows: usize,
}

impl Layout {
    pub fn new(k: usize, h: usize) -> Result<Self, String> {
        if k == 0 || k > MAX_ASSETS {
            return Err(format!("number of assets must be 1..={MAX_ASSETS}, got {k}"));
        }
        if h == 0 || h > MAX_TREE_HEIGHT {
            return Err(format!("tree height must be 1..={MAX_TREE_HEIGHT}, got {h}"));
        }
        let nb = (8 + 8 * k).div_ceil(16);
        let acc = DIG + NDIG;
        let (cb, nch) = (chunk_bits(h), chunks(h));
        let v = acc + 2 * nch * k;
        let kc = v + NPOS;
        let st = kc + 4;
        let depth = h + 1;
        let width = st + 8 * depth;
        let p_pw = P_BLK + nb;
        let rows_per_leaf = nb + 2;
        let used = (rows_per_leaf << h) + (1 << h) - 1;
        let n_rows = (used + 1).next_power_of_two().max(1 << MIN_LOG_ROWS);
        Ok(Self { k, h, nb, acc, cb, nch, v, kc, st, depth, width, p_pw, p_width: p_pw, rows_per_leaf, n_rows })
    }

    fn schedule(&self) -> Vec<(Kind, usize)> {
        let mut s = Vec::with_capacity(self.n_rows);
        for i in 0..(1usize << self.h) {
            for b in 0..self.nb {
                s.push((Kind::Block(b), i));
            }
            s.push((Kind::SolvA, i));
            s.push((Kind::SolvB, i));
            for _ in 0..(i + 1).trailing_zeros().min(self.h as u32) {
                s.push((Kind::Merge, i));
            }
        }
        while s.len() < self.n_rows {
            s.push((Kind::Pad, 0));
        }
        s
    }

    /// Public value positions.
    pub fn pv_prices(&self) -> usize {
        3 + RID_ELEMS
    }
    pub fn pv_haircuts(&self) -> usize {
        self.pv_prices() + 4 * self.k
    }
    pub fn pv_sums(&self) -> usize {
        self.pv_haircuts() + self.k
    }
    pub fn pv_root(&self) -> usize {
        self.pv_sums() + 2 * self.nch * self.k
    }
    /// 4 key limbs (16, 14, 16, 14 bits) of key_lo, then 4 of key_hi - 1.
    pub fn pv_keys(&self) -> usize {
        self.pv_root() + 8
    }
    pub fn num_public(&self) -> usize {
        self.pv_keys() + 8
    }
}

/// Signed solvency weight of amount slot `ai` (0..K equity, K..2K debt) as 8 bytes.
fn weights(k: usize, prices: &[u64], haircuts: &[u64]) -> Vec<(bool, [u64; 8])> {
    (0..2 * k)
        .map(|ai| {
            let (neg, w) = if ai < k {
                (false, prices[ai] as u128 * haircuts[ai] as u128)
            } else {
                (true, prices[ai - k] as u128 * 10_000u128)
            };
            let w = w as u64; // checked < 2^64 in validate_constants
            (neg, core::array::from_fn(|i| (w >> (8 * i)) & 0xff))
        })
        .collect()
}

pub fn validate_constants(prices: &[u64], haircuts: &[u64]) -> Result<(), String> {
    if prices.len() != haircuts.len() {
        return Err(format!("{} prices but {} haircuts", prices.len(), haircuts.len()));
    }
    for (a, (&p, &hc)) in prices.iter().zip(haircuts).enumerate() {
        if hc > MAX_HAIRCUT_BP {
            return Err(format!("asset {a}: haircut {hc} bp exceeds {MAX_HAIRCUT_BP}"));
        }
        if (p as u128) * 10_000 >= 1u128 << MAX_WEIGHT_BITS {
            return Err(format!("asset {a}: price {p} too large: 10000*price must be < 2^64"));
        }
    }
    Ok(())
}

pub struct LiabilitiesAir {
    pub lay: Layout,
    w: Vec<(bool, [u64; 8])>,
    p2: P2Air,
    rc: RoundConstants<F, W, HALF_FULL, PARTIAL>,
}

fn round_constants() -> RoundConstants<F, W, HALF_FULL, PARTIAL> {
    RoundConstants::new(
        KOALABEAR_POSEIDON2_RC_24_EXTERNAL_INITIAL,
        KOALABEAR_POSEIDON2_RC_24_INTERNAL,
        KOALABEAR_POSEIDON2_RC_24_EXTERNAL_FINAL,
    )
}

impl LiabilitiesAir {
    pub fn new(k: usize, h: usize, prices: &[u64], haircuts: &[u64]) -> Result<Self, String> {
        let lay = Layout::new(k, h)?;
        if prices.len() != k {
            return Err(format!("expected {k} prices, got {}", prices.len()));
        }
        validate_constants(prices, haircuts)?;
        let p2 = Poseidon2Air::new(round_constants());
        Ok(Self { w: weights(k, prices, haircuts), lay, p2, rc: round_constants() })
    }

    /// Amount slot m (0..4) of block b: amount index, if any.
    fn slot_amount(&self, b: usize, m: usize) -> Option<usize> {
        let ai = (4 * b + m) as isize - 2;
        (ai >= 0 && (ai as usize) < 2 * self.lay.k).then_some(ai as usize)
    }
}

fn fe_signed(neg: bool, x: u64) -> F {
    let f = F::from_u64(x);
    if neg { -f } else { f }
}

impl BaseAir<F> for LiabilitiesAir {
    fn width(&self) -> usize {
        self.lay.width
    }
    fn preprocessed_width(&self) -> usize {
        self.lay.p_width
    }
    fn num_public_values(&self) -> usize {
        self.lay.num_public()
    }
    fn max_constraint_degree(&self) -> Option<usize> {
        Some(4)
    }
    fn preprocessed_trace(&self) -> Option<RowMajorMatrix<F>> {
        let lay = &self.lay;
        let pw = lay.p_width;
        let mut vals = vec![F::ZERO; lay.n_rows * pw];
        for (r, (kind, leaf)) in lay.schedule().into_iter().enumerate() {
            let row = &mut vals[r * pw..(r + 1) * pw];
            match kind {
                Kind::Block(b) => {
                    if b == 0 {
                        // leaf 0 is compared against key_lo by a first-row constraint
                        if leaf > 0 {
                            row[P_KCMP] = F::ONE;
                        }
                    }
                    row[P_BLK + b] = F::ONE;
                }
                Kind::SolvA => row[P_SA] = F::ONE,
                Kind::SolvB => {}
                Kind::Merge => row[P_MERGE] = F::ONE,
                Kind::Pad => {}
            }
        }
        Some(RowMajorMatrix::new(vals, pw))
    }
}

/// The value of bits `lo..hi` of a row's digit columns (base 4; `lo` and `hi` even).
fn bitsum<AB: AirBuilder>(digits: &[AB::Var], lo: usize, hi: usize) -> AB::Expr {
    debug_assert!(lo % 2 == 0 && hi % 2 == 0 && lo <= hi);
    let mut acc = AB::Expr::ZERO;
    for (i, &d) in digits[lo / 2..hi / 2].iter().enumerate() {
        acc += d * AB::F::from_u64(1u64 << (2 * i));
    }
    acc
}

impl<AB: AirBuilder<F = F>> Air<AB> for LiabilitiesAir {
    fn eval(&self, builder: &mut AB) {
        let lay = &self.lay;
        // Poseidon2 on every row.
        {
            let mut sub = SubAirBuilder::<AB, P2Air, AB::Var>::new(builder, 0..NP);
            self.p2.eval(&mut sub);
        }
        let main = builder.main();
        // Borrow the rows in place (the windows are owned copies of two slice references): no
        // per-row copy of ~700 (packed) cells in the prover's quotient loop.
        let loc: &[AB::Var] = main.current_slice();
        let nxt: &[AB::Var] = main.next_slice();
        let prep = builder.preprocessed().clone();
        let pl: &[AB::Var] = prep.current_slice();
        let pn: &[AB::Var] = prep.next_slice();
        // public values stay field elements until used (a handful of boundary constraints)
        let pubs: Vec<AB::PublicVar> = builder.public_values().to_vec();

        let bits = &loc[DIG..DIG + NDIG];
        let one = AB::Expr::ONE;
        // (b) base-4 digits: d (d - 1) (d - 2) (d - 3) = 0
        for &d in bits {
            let d: AB::Expr = d.into();
            builder.assert_zero(
                d.clone() * (d.clone() - one.clone()) * (d.clone() - AB::Expr::TWO)
                    * (d - AB::Expr::from_u64(3)),
            );
        }
        let nb = lay.nb;
        let b0 = |row: &[AB::Var]| -> AB::Expr { row[P_BLK].into() };
        let bcont = |row: &[AB::Var]| -> AB::Expr {
            let mut e = AB::Expr::ZERO;
            for b in 1..nb {
                e += row[P_BLK + b].into();
            }
            e
        };
        let blast: AB::Expr = pl[P_BLK + nb - 1].into();
        let k_even = (8 + 8 * lay.k) % 16 != 0;
        let is_block: AB::Expr = b0(&pl) + bcont(&pl);
        // (c) limb lanes equal their 16 bits
        for l in 0..16 {
            let lane = bitsum::<AB>(bits, 16 * l, 16 * l + 16);
            let d: AB::Expr = loc[l].into() - lane;
            if l >= 8 {
                builder.when(is_block.clone()).assert_zero(d);
                if k_even {
                    builder.when(blast.clone()).assert_zero(loc[l]);
                }
            } else {
                builder.when(bcont(&pl)).assert_zero(d);
            }
        }
        // (d) first block capacity: TAG_LEAF, length, zeros
        builder.when(b0(&pl)).assert_eq(loc[16], AB::Expr::from_u64(hash::TAG_LEAF as u64));
        builder.when(b0(&pl)).assert_eq(loc[17], AB::Expr::from_u64((8 + 8 * lay.k) as u64));
        for i in 18..24 {
            builder.when(b0(&pl)).assert_zero(loc[i]);
        }
        // (e) sponge continuation: capacity carried from the previous row's output
        for i in 16..24 {
            builder.when_transition().when(bcont(&pn)).assert_eq(nxt[i], loc[OUT + i]);
        }
        // (f) sort keys: c0 = bits 0..30, c1 = bits 30..60; key limbs of 16, 14, 16, 14 bits
        builder.when(b0(&pl)).assert_eq(loc[0], bitsum::<AB>(bits, 0, 30));
        builder.when(b0(&pl)).assert_eq(loc[1], bitsum::<AB>(bits, 30, 60));
        let klimb: [AB::Expr; 4] = [
            bitsum::<AB>(bits, 30, 46),
            bitsum::<AB>(bits, 46, 60),
            bitsum::<AB>(bits, 0, 16),
            bitsum::<AB>(bits, 16, 30),
        ];
        // a - b - sub = sum d_t 2^off_t >= 0 with d_t of the limb's width (bits 60..120) and
        // boolean borrows (one digit each, bits 120, 122, 124, checked boolean wherever a key
        // difference is asserted); every term is < 2^17, so the limb equations hold over the
        // integers.
        let borrow = |t: usize| -> AB::Expr { bits[BORROW_BIT[t] / 2].into() };
        let key_diff = |t: usize, a: AB::Expr, b: AB::Expr, sub: AB::Expr| -> AB::Expr {
            let d_t = bitsum::<AB>(bits, KD_OFF[t], KD_OFF[t] + KEY_LIMB_BITS[t]);
            let b_in: AB::Expr = if t == 0 { AB::Expr::ZERO } else { borrow(t - 1) };
            let b_out: AB::Expr = if t == 3 { AB::Expr::ZERO } else { borrow(t) };
            a - b - sub - b_in + b_out * AB::F::from_u64(1 << KEY_LIMB_BITS[t]) - d_t
        };
        for t in 0..3 {
            let bt = bits[BORROW_BIT[t] / 2];
            builder.when(pl[P_KCMP]).assert_bool(bt);
            builder.when_first_row().assert_bool(bt);
            builder.when_last_row().assert_bool(bt);
        }
        for t in 0..4 {
            // kc = limbs of the most recent key strictly before this row (key_lo on row 0)
            let kc = loc[lay.kc + t];
            builder.when_first_row().assert_eq(kc, pubs[lay.pv_keys() + t].into());
            builder
                .when_transition()
                .assert_eq(nxt[lay.kc + t], kc.into() + b0(&pl) * (klimb[t].clone() - kc.into()));
            // leaf i > 0: key - prev - 1 >= 0; leaf 0 (row 0): key - key_lo >= 0
            let sub1 = if t == 0 { AB::Expr::ONE } else { AB::Expr::ZERO };
            builder.when(pl[P_KCMP]).assert_zero(key_diff(t, klimb[t].clone(), kc.into(), sub1));
            builder.when_first_row().assert_zero(key_diff(t, klimb[t].clone(), kc.into(), AB::Expr::ZERO));
            // last row (a padding row, kc = the last leaf's key): (key_hi - 1) - key >= 0
            builder.when_last_row().assert_zero(key_diff(
                t,
                pubs[lay.pv_keys() + 4 + t].into(),
                kc.into(),
                AB::Expr::ZERO,
            ));
        }
        // (g) per-asset chunk sums: the amount's 4 lanes are contiguous in one block, so its 64
        // bits are bits[16 l0 .. 16 l0 + 64]; chunk c is bits w c .. min(w (c + 1), 64), w = lay.cb.
        for ai in 0..2 * lay.k {
            let idx = 8 + 4 * ai;
            let (b, l0) = (idx / 16, idx % 16);
            for c in 0..lay.nch {
                let lo = 16 * l0 + lay.cb * c;
                let hi = 16 * l0 + (lay.cb * (c + 1)).min(64);
                let m = lay.acc + lay.nch * ai + c;
                builder.when_first_row().assert_zero(loc[m]);
                builder
                    .when_transition()
                    .assert_eq(nxt[m], loc[m].into() + pl[P_BLK + b] * bitsum::<AB>(bits, lo, hi));
                builder.when_last_row().assert_eq(loc[m], pubs[lay.pv_sums() + lay.nch * ai + c].into());
            }
        }
        // (h) per-customer solvency accumulators
        let bytes: Vec<Vec<AB::Expr>> = (0..4)
            .map(|m| {
                (0..8)
                    .map(|s| {
                        let o = 16 * (4 * m + s / 2) + 8 * (s % 2);
                        bitsum::<AB>(bits, o, o + 8)
                    })
                    .collect()
            })
            .collect();
        // The signed weight byte kk of amount slot m on this row: sum over blocks b of
        // blk_b * weight(slot m of block b). The weights are constants of the AIR, computed by
        // the verifier from the public prices and haircuts; the preprocessed columns (the
        // one-hot block index) depend only on K and h.
        let wsel: Vec<Vec<AB::Expr>> = (0..4)
            .map(|m| {
                (0..8)
                    .map(|kk| {
                        let mut e = AB::Expr::ZERO;
                        for b in 0..lay.nb {
                            if let Some(ai) = self.slot_amount(b, m) {
                                let (neg, wb) = self.w[ai];
                                if wb[kk] != 0 {
                                    e += pl[P_BLK + b] * fe_signed(neg, wb[kk]);
                                }
                            }
                        }
                        e
                    })
                    .collect()
            })
            .collect();
        for t in 0..NPOS {
            let mut c = AB::Expr::ZERO;
            for m in 0..4 {
                for s in 0..8 {
                    if t >= s && t - s < 8 {
                        c += bytes[m][s].clone() * wsel[m][t - s].clone();
                    }
                }
            }
            let v = loc[lay.v + t];
            builder.when_first_row().assert_zero(v);
            builder
                .when_transition()
                .assert_eq(nxt[lay.v + t], (one.clone() - b0(&pn)) * (v.into() + c));
        }
        // (i) solvency: v_t + c_t = r_t + 256 c_{t+1}, c_0 = 0, c_15 >= 0 (rows A then B)
        let nbits = &nxt[DIG..DIG + NDIG];
        let carry = |t: usize| -> AB::Expr {
            // carry c_t for t in 1..=15: c_1..c_6 on row A (bits 120..240), c_7..c_15 on row B
            if t <= 6 {
                let o = 120 + CARRY_BITS * (t - 1);
                bitsum::<AB>(bits, o, o + CARRY_BITS) - AB::Expr::from_u64(CARRY_OFF)
            } else {
                let o = CARRY_BITS * (t - 7);
                let s = bitsum::<AB>(nbits, o, o + CARRY_BITS);
                if t == 15 { s } else { s - AB::Expr::from_u64(CARRY_OFF) }
            }
        };
        for t in 0..NPOS {
            let r_t = bitsum::<AB>(bits, 8 * t, 8 * t + 8);
            let c_t = if t == 0 { AB::Expr::ZERO } else { carry(t) };
            let e = loc[lay.v + t].into() + c_t - r_t - carry(t + 1) * AB::F::from_u64(256);
            builder.when_transition().when(pl[P_SA]).assert_zero(e);
        }
        // (j) Merkle stack
        let d = lay.depth;
        let stk = |row: &[AB::Var], s: usize, i: usize| -> AB::Expr {
            if s < d { row[lay.st + 8 * s + i].into() } else { AB::Expr::ZERO }
        };
        for i in 0..8 {
            builder.when(pl[P_MERGE]).assert_eq(loc[i], stk(&loc, 1, i));
            builder.when(pl[P_MERGE]).assert_eq(loc[8 + i], stk(&loc, 0, i));
        }
        builder.when(pl[P_MERGE]).assert_eq(loc[16], AB::Expr::from_u64(hash::TAG_NODE as u64));
        for i in 17..24 {
            builder.when(pl[P_MERGE]).assert_zero(loc[i]);
        }
        let stay: AB::Expr = one.clone() - blast.clone() - pl[P_MERGE].into();
        for s in 0..d {
            for i in 0..8 {
                let out: AB::Expr = loc[OUT + i].into();
                let push = if s == 0 { out.clone() } else { stk(&loc, s - 1, i) };
                let pop = if s == 0 { out } else { stk(&loc, s + 1, i) };
                let expect = blast.clone() * push + pl[P_MERGE] * pop + stay.clone() * stk(&loc, s, i);
                if s == d - 1 {
                    // the top slot is never read after a merge (depth <= h+1)
                    builder
                        .when_transition()
                        .when(one.clone() - pl[P_MERGE].into())
                        .assert_eq(nxt[lay.st + 8 * s + i], expect);
                } else {
                    builder.when_transition().assert_eq(nxt[lay.st + 8 * s + i], expect);
                }
            }
        }
        for i in 0..8 {
            builder.when_last_row().assert_eq(loc[lay.st + i], pubs[lay.pv_root() + i].into());
        }
    }
}

// ---------------------------------------------------------------- config
pub type Val = KoalaBear;
pub type Challenge = BinomialExtensionField<Val, 4>;
type Perm16 = Poseidon2KoalaBear<16>;
type Perm24 = Poseidon2KoalaBear<24>;
/// Leaf hashing of the committed LDE rows: Poseidon2-24 sponge, rate 16, capacity 8 (248 bits).
type MyHash = PaddingFreeSponge<Perm24, 24, 16, 8>;
type MyCompress = TruncatedPermutation<Perm16, 2, 8, 16>;
type ValMmcs = MerkleTreeHidingMmcs<
    <Val as Field>::Packing,
    <Val as Field>::Packing,
    MyHash,
    MyCompress,
    ChaCha20Rng,
    2,
    8,
    4,
>;
type ChallengeMmcs = ExtensionMmcs<Val, Challenge, ValMmcs>;
type InnerChallenger = DuplexChallenger<Val, Perm16, 16, 8>;
type Challenger = DetChallenger;

/// Plonky3's duplex challenger with a DETERMINISTIC proof-of-work search: the smallest passing
/// witness (Plonky3's own `grind` returns whichever parallel worker finds one first, which
/// would make seeded proofs depend on thread timing). Every observation and sample is the inner
/// challenger's, so the transcript and the verifier's checks are unchanged.
#[derive(Clone, Debug)]
pub struct DetChallenger(InnerChallenger);

impl<T> CanObserve<T> for DetChallenger
where
    InnerChallenger: CanObserve<T>,
{
    fn observe(&mut self, value: T) {
        self.0.observe(value)
    }
    fn observe_slice(&mut self, values: &[T])
    where
        T: Clone,
    {
        self.0.observe_slice(values)
    }
}

impl<T> CanSample<T> for DetChallenger
where
    InnerChallenger: CanSample<T>,
{
    fn sample(&mut self) -> T {
        self.0.sample()
    }
}

impl CanSampleBits<usize> for DetChallenger {
    fn sample_bits(&mut self, bits: usize) -> usize {
        self.0.sample_bits(bits)
    }
}

impl FieldChallenger<Val> for DetChallenger {}

impl GrindingChallenger for DetChallenger {
    type Witness = Val;

    /// The smallest passing witness. Same SIMD shortcut as Plonky3's `DuplexChallenger::grind`
    /// (one packed permutation tests `Packing::WIDTH` candidates from the shared transcript
    /// state), but searched in order: `find_map_first` over chunks of batches. The result is
    /// re-checked with the inner challenger's own `check_witness`, which also advances the
    /// transcript exactly as the verifier will.
    fn grind(&mut self, bits: usize) -> Val {
        type P = <Val as Field>::Packing;
        if bits == 0 {
            return Val::ZERO;
        }
        assert!(bits < 31, "proof-of-work bits must be < 31");
        let inner = &self.0;
        let lanes = P::WIDTH as u64;
        let witness_idx = inner.input_buffer.len();
        let tagged = inner.sponge_state[8] + Val::from_u8((witness_idx + 1) as u8);
        let base: [P; 16] = core::array::from_fn(|i| {
            if i < witness_idx {
                P::from(inner.input_buffer[i])
            } else if i < 8 {
                P::ZERO
            } else if i == 8 {
                P::from(tagged)
            } else {
                P::from(inner.sponge_state[i])
            }
        });
        let mask = (1u64 << bits) - 1;
        let order = Val::ORDER_U64;
        let num_batches = order.div_ceil(lanes);
        const CHUNK: u64 = 1 << 10;
        let mut start = 0u64;
        while start < num_batches {
            let end = (start + CHUNK).min(num_batches);
            let found = (start..end).into_par_iter().find_map_first(|batch| {
                let mut st = base;
                let cands = P::from_fn(|lane| {
                    let c = batch * lanes + lane as u64;
                    if c < order { Val::from_u64(c) } else { Val::NEG_ONE }
                });
                st[witness_idx] = cands;
                inner.permutation.permute_mut(&mut st);
                st[7]
                    .as_slice()
                    .iter()
                    .zip(cands.as_slice())
                    .find(|(x, _)| x.as_canonical_u64() & mask == 0)
                    .map(|(_, &w)| w)
            });
            if let Some(w) = found {
                assert!(self.0.check_witness(bits, w), "proof-of-work witness does not check");
                return w;
            }
            start = end;
        }
        panic!("no proof-of-work witness in the field");
    }
}
type Dft = Radix2DitParallel<Val>;
type Pcs = HidingFriPcs<Val, Dft, ValMmcs, ChallengeMmcs, ChaCha20Rng>;
pub type MyConfig = StarkConfig<Pcs, Challenge, Challenger>;
pub type LiabProof = p3_uni_stark::Proof<MyConfig>;

pub fn fri_params<M>(mmcs: M) -> FriParameters<M> {
    FriParameters {
        log_blowup: LOG_BLOWUP,
        log_final_poly_len: LOG_FINAL_POLY_LEN,
        max_log_arity: MAX_LOG_ARITY,
        num_queries: NUM_QUERIES,
        batch_proof_of_work_bits: BATCH_POW_BITS,
        commit_proof_of_work_bits: COMMIT_POW_BITS,
        query_proof_of_work_bits: QUERY_POW_BITS,
        mmcs,
    }
}

fn os_seed() -> [u8; 32] {
    let mut s = [0u8; 32];
    rand::fill(&mut s[..]);
    s
}

/// The prover's single source of randomness: ChaCha20 keyed by `seed`, or by 32 bytes from the
/// OS CSPRNG when no seed is given. Padding keys and commitments, the hiding PCS's random
/// codewords and the Merkle salts are all drawn from it in a fixed (sequential) order, so a
/// seeded proof is byte-for-byte reproducible regardless of the thread count.
pub fn prover_rng(seed: Option<[u8; 32]>) -> ChaCha20Rng {
    ChaCha20Rng::from_seed(seed.unwrap_or_else(os_seed))
}

/// The prover's config masks with OS randomness; the verifier's RNG is never used.
pub fn make_config(prover: bool) -> MyConfig {
    if prover {
        make_prover_config(&mut prover_rng(None))
    } else {
        make_config_from_seeds([1; 32], [2; 32])
    }
}

/// The prover's config, its masking randomness drawn from `rng`.
pub fn make_prover_config(rng: &mut ChaCha20Rng) -> MyConfig {
    let a: [u8; 32] = rng.random();
    let b: [u8; 32] = rng.random();
    make_config_from_seeds(a, b)
}

fn make_config_from_seeds(mmcs_seed: [u8; 32], pcs_seed: [u8; 32]) -> MyConfig {
    let perm = default_koalabear_poseidon2_16();
    let val_mmcs = ValMmcs::new(
        MyHash::new(default_koalabear_poseidon2_24()),
        MyCompress::new(perm.clone()),
        0,
        ChaCha20Rng::from_seed(mmcs_seed),
    );
    let challenge_mmcs = ChallengeMmcs::new(val_mmcs.clone());
    let pcs = Pcs::new(
        Dft::default(),
        val_mmcs,
        fri_params(challenge_mmcs),
        NUM_RANDOM_CODEWORDS,
        ChaCha20Rng::from_seed(pcs_seed),
    );
    MyConfig::new(pcs, DetChallenger(InnerChallenger::new(perm)))
}

// ---------------------------------------------------------------- statement & witness
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Public {
    pub round_id: Vec<u8>,
    pub k: usize,
    pub h: usize,
    pub prices: Vec<u64>,
    pub haircuts: Vec<u64>,
    /// chunk sums S[a][c] for a in 0..2K (equity then debt), c in 0..chunks(h): the sum over all
    /// leaves of bits wc..w(c+1) of the amount (w = chunk_bits(h)); the total is sum_c S[a][c] 2^(wc).
    pub limb_sums: Vec<Vec<u64>>,
    pub root: Digest,
    /// Every leaf's sort key (padding included) lies in [key_lo, key_hi).
    pub key_lo: u64,
    pub key_hi: u64,
}

impl Public {
    pub fn totals(&self) -> Vec<u128> {
        self.limb_sums
            .iter()
            .map(|s| s.iter().enumerate().map(|(c, &x)| (x as u128) << (chunk_bits(self.h) * c)).sum())
            .collect()
    }

    pub fn to_fields(&self, lay: &Layout) -> Result<Vec<F>, String> {
        if self.round_id.len() > MAX_ROUND_ID_BYTES {
            return Err(format!("round id longer than {MAX_ROUND_ID_BYTES} bytes"));
        }
        let mut v = vec![F::ZERO; lay.num_public()];
        v[0] = F::from_u64(self.k as u64);
        v[1] = F::from_u64(self.h as u64);
        v[2] = F::from_u64(self.round_id.len() as u64);
        for (i, c) in self.round_id.chunks(3).enumerate() {
            let mut x = 0u32;
            for (j, &b) in c.iter().enumerate() {
                x |= (b as u32) << (8 * j);
            }
            v[3 + i] = F::from_u32(x);
        }
        for a in 0..self.k {
            for (j, l) in hash::limbs(self.prices[a]).iter().enumerate() {
                v[lay.pv_prices() + 4 * a + j] = F::from_u32(*l);
            }
            v[lay.pv_haircuts() + a] = F::from_u64(self.haircuts[a]);
        }
        if self.limb_sums.len() != 2 * self.k {
            return Err(format!("expected {} limb-sum rows, got {}", 2 * self.k, self.limb_sums.len()));
        }
        for (ai, s) in self.limb_sums.iter().enumerate() {
            if s.len() != lay.nch {
                return Err(format!("limb-sum row {ai} has {} chunks, expected {} for h = {}", s.len(), lay.nch, lay.h));
            }
            for c in 0..lay.nch {
                if s[c] >= hash::MODULUS as u64 {
                    return Err(format!("chunk sum [{ai}][{c}] = {} is not below p", s[c]));
                }
                v[lay.pv_sums() + lay.nch * ai + c] = F::from_u64(s[c]);
            }
        }
        v[lay.pv_root()..lay.pv_root() + 8].copy_from_slice(&self.root);
        check_key_range(self.key_lo, self.key_hi)?;
        for t in 0..4 {
            v[lay.pv_keys() + t] = F::from_u64(key_limb(self.key_lo, t));
            v[lay.pv_keys() + 4 + t] = F::from_u64(key_limb(self.key_hi - 1, t));
        }
        Ok(v)
    }
}

pub fn check_key_range(lo: u64, hi: u64) -> Result<(), String> {
    if !(lo < hi && hi <= KEY_SPACE) {
        return Err(format!("key range [{lo}, {hi}) is not a non-empty sub-range of [0, 2^60)"));
    }
    Ok(())
}

#[derive(Clone, Debug)]
pub struct Witness {
    pub commitments: Vec<Digest>,
    pub balances: Vec<Vec<u64>>,
}

pub fn key(c: &Digest) -> u64 {
    ((c[0].as_canonical_u32() as u64) << 30) | c[1].as_canonical_u32() as u64
}

/// Pads to 2^h leaves with zero balances and CSPRNG commitments above the last key
/// (full key range, OS randomness).
pub fn pad_witness(wit: Witness, k: usize, h: usize) -> Result<Witness, String> {
    pad_witness_in(wit, k, h, 0, KEY_SPACE, &mut prover_rng(None))
}

/// Pads to 2^h leaves with zero balances and commitments whose keys are distinct, uniformly
/// drawn from (last real key, key_hi) (from [key_lo, key_hi) when there is no customer), and
/// whose other six elements are uniform field elements, all from `rng`.
pub fn pad_witness_in(
    mut wit: Witness,
    k: usize,
    h: usize,
    key_lo: u64,
    key_hi: u64,
    rng: &mut ChaCha20Rng,
) -> Result<Witness, String> {
    check_key_range(key_lo, key_hi)?;
    let n = wit.commitments.len();
    let cap = 1usize << h;
    if n > cap {
        return Err(format!("{n} customers do not fit a tree of height {h}"));
    }
    let last = if n == 0 { None } else { Some(key(&wit.commitments[n - 1])) };
    let start = last.map_or(key_lo, |x| (x + 1).max(key_lo));
    let need = (cap - n) as u64;
    let space = key_hi.saturating_sub(start);
    if need > space {
        return Err(format!(
            "no room for {need} padding keys in [{start}, {key_hi}) above the last customer's key"
        ));
    }
    // Floyd's sampling of `need` distinct offsets in [0, space); sorted, so deterministic.
    let mut chosen = std::collections::HashSet::with_capacity(need as usize);
    for j in (space - need)..space {
        let t = rng.random_range(0..=j);
        if !chosen.insert(t) {
            chosen.insert(j);
        }
    }
    let mut keys: Vec<u64> = chosen.into_iter().map(|x| start + x).collect();
    keys.sort_unstable();
    for kk in keys {
        let mut c = [F::ZERO; 8];
        c[0] = F::from_u64(kk >> 30);
        c[1] = F::from_u64(kk & ((1 << 30) - 1));
        for e in c.iter_mut().skip(2) {
            *e = rng.random::<F>();
        }
        wit.commitments.push(c);
        wit.balances.push(vec![0; 2 * k]);
    }
    Ok(wit)
}

/// Solvency witness: r_t (15 bytes) and carries c_1..c_15 of V = sum_t v_t 2^(8t).
fn solvency_digits(v: &[i64; NPOS]) -> ([u64; NPOS], [i64; NPOS + 1]) {
    let mut r = [0u64; NPOS];
    let mut c = [0i64; NPOS + 1];
    for t in 0..NPOS {
        let x = v[t] + c[t];
        r[t] = x.rem_euclid(256) as u64;
        c[t + 1] = x.div_euclid(256);
    }
    (r, c)
}

fn customer_v(air: &LiabilitiesAir, bal: &[u64]) -> [i64; NPOS] {
    let mut v = [0i64; NPOS];
    for (ai, &x) in bal.iter().enumerate() {
        add_weighted(air, ai, x, &mut v);
    }
    v
}

/// Add amount `x` of value slot `ai`, times its signed solvency weight, byte by byte into `v`.
fn add_weighted(air: &LiabilitiesAir, ai: usize, x: u64, v: &mut [i64; NPOS]) {
    let (neg, wb) = air.w[ai];
    for s in 0..8 {
        let xb = ((x >> (8 * s)) & 0xff) as i64;
        for kk in 0..8 {
            let term = xb * wb[kk] as i64;
            v[s + kk] += if neg { -term } else { term };
        }
    }
}

/// Write `val` (< 2^n) as base-4 digits at bit offset `off` (both even) of the digit columns.
fn set_bits(row: &mut [F], off: usize, n: usize, val: u64) {
    debug_assert!(off % 2 == 0 && n % 2 == 0 && (n == 64 || val >> n == 0));
    for i in 0..n / 2 {
        row[DIG + off / 2 + i] = F::from_u64((val >> (2 * i)) & 3);
    }
}

fn fill_perm(row: &mut [F], input: [F; W], air: &LiabilitiesAir) {
    let p: &mut [F] = &mut row[..NP];
    // SAFETY: MaybeUninit<F> has the same layout as F; every cell gets written.
    let p: &mut [MaybeUninit<F>] = unsafe { &mut *(p as *mut [F] as *mut [MaybeUninit<F>]) };
    let cols: &mut P2Cols<MaybeUninit<F>> = p.borrow_mut();
    generate_trace_rows_for_perm::<F, GenericPoseidon2LinearLayersKoalaBear, W, SBOX_DEGREE, 0, HALF_FULL, PARTIAL>(
        cols, input, &air.rc,
    );
}

/// Honest witness checks: the prover refuses a witness that breaks the statement.
pub fn check_witness(air: &LiabilitiesAir, wit: &Witness) -> Result<(), String> {
    check_witness_in(air, wit, 0, KEY_SPACE)
}

/// As [`check_witness`], and every customer's sort key must lie in [key_lo, key_hi).
pub fn check_witness_in(air: &LiabilitiesAir, wit: &Witness, key_lo: u64, key_hi: u64) -> Result<(), String> {
    check_key_range(key_lo, key_hi)?;
    let k = air.lay.k;
    if wit.commitments.len() != wit.balances.len() {
        return Err("commitments and balances differ in length".into());
    }
    let mut prev: Option<u64> = None;
    for (i, (c, b)) in wit.commitments.iter().zip(&wit.balances).enumerate() {
        if c[0].as_canonical_u32() >= 1 << 30 || c[1].as_canonical_u32() >= 1 << 30 {
            return Err(format!("customer {i}: commitment elements 0 and 1 must be < 2^30"));
        }
        let kk = key(c);
        if kk < key_lo || kk >= key_hi {
            return Err(format!("customer {i}: sort key {kk} outside the key range [{key_lo}, {key_hi})"));
        }
        if let Some(p) = prev {
            if kk <= p {
                return Err(format!("customer {i}: sort key not strictly increasing"));
            }
        }
        prev = Some(kk);
        if b.len() != 2 * k {
            return Err(format!("customer {i}: expected {} balances, got {}", 2 * k, b.len()));
        }
        let (_, c) = solvency_digits(&customer_v(air, b));
        if c[NPOS] < 0 {
            return Err(format!("customer {i}: insolvent under the published prices and haircuts"));
        }
    }
    Ok(())
}

/// Write a - b - sub as key limbs d_t (bits 60..120) with borrows (one digit each at bits 120,
/// 122, 124). Wrong (negative) differences are written as their wrapped limbs: the AIR then fails.
fn set_key_diff(row: &mut [F], a: u64, b: u64, sub: u64) {
    let mut borrow = 0i64;
    for t in 0..4 {
        let x = key_limb(a, t) as i64;
        let y = key_limb(b, t) as i64;
        let mut dd = x - y - if t == 0 { sub as i64 } else { 0 } - borrow;
        borrow = (dd < 0) as i64;
        if dd < 0 {
            dd += 1 << KEY_LIMB_BITS[t];
        }
        set_bits(row, KD_OFF[t], KEY_LIMB_BITS[t], dd as u64);
        if t < 3 {
            row[DIG + BORROW_BIT[t] / 2] = F::from_u64(borrow as u64);
        }
    }
}

/// Build the main trace and the public values (limb sums, root) for the full key range.
pub fn generate_trace(air: &LiabilitiesAir, wit: &Witness) -> (RowMajorMatrix<F>, Vec<Vec<u64>>, Digest) {
    generate_trace_in(air, wit, 0, KEY_SPACE)
}

/// Build the main trace and the public values (limb sums, root). `wit` must be padded; its keys
/// are compared against [key_lo, key_hi).
pub fn generate_trace_in(
    air: &LiabilitiesAir,
    wit: &Witness,
    key_lo: u64,
    key_hi: u64,
) -> (RowMajorMatrix<F>, Vec<Vec<u64>>, Digest) {
    let lay = &air.lay;
    let wd = lay.width;
    let nleaf = 1usize << lay.h;
    let mut vals = F::zero_vec(lay.n_rows * wd);
    let rpl = lay.rows_per_leaf;
    // Leaves: blocks and solvency rows are independent per customer (parallel).
    let leaf_rows: Vec<usize> = {
        let mut v = Vec::with_capacity(nleaf);
        let mut r = 0;
        for i in 0..nleaf {
            v.push(r);
            r += rpl + (i + 1).trailing_zeros().min(lay.h as u32) as usize;
        }
        v
    };
    let leaves: Vec<Digest> = {
        let ptr = vals.as_mut_ptr() as usize;
        (0..nleaf)
            .into_par_iter()
            .map(|i| {
                // SAFETY: each leaf writes only its own disjoint rows.
                let rows = unsafe {
                    core::slice::from_raw_parts_mut((ptr as *mut F).add(leaf_rows[i] * wd), rpl * wd)
                };
                let c = &wit.commitments[i];
                let bal = &wit.balances[i];
                let xs = hash::leaf_input(c, bal);
                let mut state = [F::ZERO; W];
                state[16] = F::from_u32(hash::TAG_LEAF);
                state[17] = F::from_u64(xs.len() as u64);
                for b in 0..lay.nb {
                    let row = &mut rows[b * wd..(b + 1) * wd];
                    for l in 0..16 {
                        state[l] = xs.get(16 * b + l).copied().unwrap_or(F::ZERO);
                    }
                    for l in 0..16 {
                        if b == 0 && l < 8 {
                            continue;
                        }
                        set_bits(row, 16 * l, 16, state[l].as_canonical_u32() as u64);
                    }
                    if b == 0 {
                        set_bits(row, 0, 30, c[0].as_canonical_u32() as u64);
                        set_bits(row, 30, 30, c[1].as_canonical_u32() as u64);
                        if i > 0 {
                            set_key_diff(row, key(c), key(&wit.commitments[i - 1]), 1);
                        } else {
                            set_key_diff(row, key(c), key_lo, 0);
                        }
                    }
                    fill_perm(row, state, air);
                    state.copy_from_slice(&row[OUT..NP]);
                }
                let (r, cr) = solvency_digits(&customer_v(air, bal));
                let ra = &mut rows[lay.nb * wd..(lay.nb + 1) * wd];
                for t in 0..NPOS {
                    set_bits(ra, 8 * t, 8, r[t]);
                }
                for t in 1..=6 {
                    set_bits(ra, 120 + CARRY_BITS * (t - 1), CARRY_BITS, (cr[t] + CARRY_OFF as i64) as u64);
                }
                fill_perm(ra, [F::ZERO; W], air);
                let rb = &mut rows[(lay.nb + 1) * wd..(lay.nb + 2) * wd];
                for t in 7..=15 {
                    let off = if t == 15 { 0 } else { CARRY_OFF as i64 };
                    set_bits(rb, CARRY_BITS * (t - 7), CARRY_BITS, (cr[t] + off) as u64);
                }
                fill_perm(rb, [F::ZERO; W], air);
                core::array::from_fn(|j| state[j])
            })
            .collect()
    };
    // Sequential pass: merges, padding, running columns.
    let sched = lay.schedule();
    let mut stack: Vec<Digest> = Vec::new();
    let mut zero_row = vec![F::ZERO; wd];
    fill_perm(&mut zero_row, [F::ZERO; W], air);
    let (nch, cb) = (lay.nch, lay.cb);
    let mut acc = vec![0u64; 2 * nch * lay.k];
    let mut v = [0i64; NPOS];
    let mut kc: [u64; 4] = core::array::from_fn(|t| key_limb(key_lo, t));
    let mut ks = [0u64; 4];
    let mut leaf_ctr = 0;
    for (r, (kind, leaf)) in sched.iter().enumerate() {
        let row = &mut vals[r * wd..(r + 1) * wd];
        match kind {
            Kind::Merge => {
                let rt = stack.pop().unwrap();
                let lt = stack.pop().unwrap();
                fill_perm(row, hash::node_input(&lt, &rt), air);
                // restore for the stack columns below
                stack.push(lt);
                stack.push(rt);
            }
            Kind::Pad => row[..NP].copy_from_slice(&zero_row[..NP]),
            _ => {}
        }
        // running columns hold the state before this row (v restarts at each customer)
        if *kind == Kind::Block(0) {
            v = [0; NPOS];
        }
        for (m, a) in acc.iter().enumerate() {
            row[lay.acc + m] = F::from_u64(*a);
        }
        for t in 0..NPOS {
            row[lay.v + t] = if v[t] < 0 { -F::from_u64((-v[t]) as u64) } else { F::from_u64(v[t] as u64) };
        }
        for t in 0..4 {
            row[lay.kc + t] = F::from_u64(kc[t]);
        }
        for (s, dg) in stack.iter().rev().enumerate() {
            row[lay.st + 8 * s..lay.st + 8 * s + 8].copy_from_slice(dg);
        }
        // effects on the next row
        match kind {
            Kind::Block(b) => {
                let bal = &wit.balances[*leaf];
                if *b == 0 {
                    let ck = key(&wit.commitments[*leaf]);
                    ks = core::array::from_fn(|t| key_limb(ck, t));
                    kc = ks;
                    let _ = leaf_ctr;
                    leaf_ctr += 1;
                }
                for m in 0..4 {
                    if let Some(ai) = air.slot_amount(*b, m) {
                        let x = bal[ai];
                        for c in 0..nch {
                            acc[nch * ai + c] += (x >> (cb * c)) & ((1 << cb) - 1);
                        }
                        add_weighted(air, ai, x, &mut v);
                    }
                }
                if *b == lay.nb - 1 {
                    stack.push(leaves[*leaf]);
                }
            }
            Kind::Merge => {
                let rt = stack.pop().unwrap();
                let lt = stack.pop().unwrap();
                let out: Digest = core::array::from_fn(|j| row[OUT + j]);
                debug_assert_eq!(out, hash::node_hash(&lt, &rt));
                stack.push(out);
            }
            _ => {}
        }
    }
    let _ = ks;
    // the last row (padding): (key_hi - 1) - last key >= 0
    let last_key = wit.commitments.last().map_or(key_lo, key);
    let nr = lay.n_rows;
    set_key_diff(&mut vals[(nr - 1) * wd..nr * wd], key_hi - 1, last_key, 0);
    let root = stack[0];
    let sums = (0..2 * lay.k).map(|ai| acc[nch * ai..nch * (ai + 1)].to_vec()).collect();
    (RowMajorMatrix::new(vals, wd), sums, root)
}

// ---------------------------------------------------------------- prove / verify / bytes
pub fn log_rows(lay: &Layout) -> usize {
    lay.n_rows.trailing_zeros() as usize
}

/// Prove a trace as is (no witness checks): used by the prover and by soundness tests.
pub fn prove_trace(air: &LiabilitiesAir, trace: RowMajorMatrix<F>, pubs: &[F]) -> Result<Vec<u8>, String> {
    prove_trace_with(air, trace, pubs, &mut prover_rng(None))
}

/// Prove a trace, every masking value drawn from `rng`.
pub fn prove_trace_with(
    air: &LiabilitiesAir,
    trace: RowMajorMatrix<F>,
    pubs: &[F],
    rng: &mut ChaCha20Rng,
) -> Result<Vec<u8>, String> {
    let config = make_prover_config(rng);
    let pd = preprocessed_prover_data(air)?;
    let proof = prove_with_preprocessed(&config, air, trace, pubs, Some(&*pd))
        .map_err(|e| format!("proving failed: {e:?}"))?;
    let mut out = Vec::new();
    out.extend_from_slice(PROOF_MAGIC);
    out.extend_from_slice(&PROOF_VERSION.to_le_bytes());
    out.extend_from_slice(&(air.lay.k as u32).to_le_bytes());
    out.extend_from_slice(&(air.lay.h as u32).to_le_bytes());
    let body = bincode::serialize(&proof).map_err(|e| format!("serialize: {e}"))?;
    out.extend_from_slice(&body);
    Ok(out)
}

pub fn prove(public_in: &Public, wit: Witness) -> Result<(Vec<u8>, Public), String> {
    prove_padded(public_in, wit).map(|(a, b, _)| (a, b))
}

/// Prove; also returns the padded witness (for the customers' inclusion paths).
pub fn prove_padded(public_in: &Public, wit: Witness) -> Result<(Vec<u8>, Public, Witness), String> {
    prove_padded_seeded(public_in, wit, None)
}

/// Prove with all prover randomness from ChaCha20(`seed`) (OS randomness when `None`).
/// The key range is `public_in.key_lo .. public_in.key_hi`.
pub fn prove_padded_seeded(
    public_in: &Public,
    wit: Witness,
    seed: Option<[u8; 32]>,
) -> Result<(Vec<u8>, Public, Witness), String> {
    let air = LiabilitiesAir::new(public_in.k, public_in.h, &public_in.prices, &public_in.haircuts)?;
    let (lo, hi) = (public_in.key_lo, public_in.key_hi);
    check_witness_in(&air, &wit, lo, hi)?;
    let mut rng = prover_rng(seed);
    let wit = pad_witness_in(wit, air.lay.k, air.lay.h, lo, hi, &mut rng)?;
    let (trace, sums, root) = generate_trace_in(&air, &wit, lo, hi);
    let mut public = public_in.clone();
    public.limb_sums = sums;
    public.root = root;
    let pubs = public.to_fields(&air.lay)?;
    let proof = prove_trace_with(&air, trace, &pubs, &mut rng)?;
    Ok((proof, public, wit))
}

const HEADER: usize = 8 + 4 + 4 + 4;

pub fn verify(proof_bytes: &[u8], public: &Public) -> Result<(), String> {
    if proof_bytes.len() < HEADER || &proof_bytes[..8] != PROOF_MAGIC {
        return Err("not a por liabilities proof (bad magic)".into());
    }
    let ver = u32::from_le_bytes(proof_bytes[8..12].try_into().unwrap());
    if ver != PROOF_VERSION {
        return Err(format!("unsupported proof version {ver}, expected {PROOF_VERSION}"));
    }
    let k = u32::from_le_bytes(proof_bytes[12..16].try_into().unwrap()) as usize;
    let h = u32::from_le_bytes(proof_bytes[16..20].try_into().unwrap()) as usize;
    if k != public.k || h != public.h {
        return Err(format!("proof is for K={k}, h={h}; the statement says K={}, h={}", public.k, public.h));
    }
    let air = LiabilitiesAir::new(public.k, public.h, &public.prices, &public.haircuts)?;
    let pubs = public.to_fields(&air.lay)?;
    use bincode::Options;
    let body = &proof_bytes[HEADER..];
    let proof: LiabProof = bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .allow_trailing_bytes()
        .with_limit(body.len() as u64 * 4 + 1024)
        .deserialize(body)
        .map_err(|e| format!("malformed proof bytes: {e}"))?;
    if proof.degree_bits != log_rows(&air.lay) + 1 {
        return Err(format!("proof degree {} does not match the statement's trace size", proof.degree_bits));
    }
    let config = make_config(false);
    let vk = preprocessed_vk(&air)?;
    verify_with_preprocessed(&config, &air, &proof, &pubs, Some(&vk))
        .map_err(|e| format!("proof does not verify: {e:?}"))
}

/// Shard-sized schedules (h <= this) keep their committed preprocessed columns for the life of
/// the process (about 31 MB at h = 12 for K = 22): a prover process proving many shards commits
/// the schedule once. Taller, one-off proofs recompute it (it would be up to 2 GB at h = 18).
pub const PREPROCESSED_CACHE_MAX_HEIGHT: usize = 13;

/// The prover's committed preprocessed columns (the row schedule, a function of (K, h) only).
/// Preprocessed columns are public: they are committed with the verifier's fixed salts so that
/// the verifier recomputes the same commitment from its own AIR.
fn preprocessed_prover_data(air: &LiabilitiesAir) -> Result<Arc<PreprocessedProverData<MyConfig>>, String> {
    static CACHE: LayoutCache<Arc<PreprocessedProverData<MyConfig>>> = OnceLock::new();
    memo_by_layout(&CACHE, air, air.lay.h <= PREPROCESSED_CACHE_MAX_HEIGHT, || {
        setup_schedule(air).map(|(pd, _vk)| Arc::new(pd))
    })
}

/// The verifier's commitment to the preprocessed columns, computed by the verifier's own code.
/// The preprocessed trace is the row schedule, a function of the layout (K, h) alone (prices,
/// haircuts and every other public value enter the constraints, not these columns), so it is
/// memoised per (K, h) for the life of the process: verifying the many shards of one round
/// commits the schedule once instead of once per shard.
pub fn preprocessed_vk(air: &LiabilitiesAir) -> Result<PreprocessedVerifierKey<MyConfig>, String> {
    static CACHE: LayoutCache<PreprocessedVerifierKey<MyConfig>> = OnceLock::new();
    memo_by_layout(&CACHE, air, true, || compute_preprocessed_vk(air))
}

/// The same commitment, always recomputed (no cache).
pub fn compute_preprocessed_vk(air: &LiabilitiesAir) -> Result<PreprocessedVerifierKey<MyConfig>, String> {
    setup_schedule(air).map(|(_pd, vk)| vk)
}

/// Commit the row schedule (the preprocessed columns) with the verifier's fixed salts.
fn setup_schedule(
    air: &LiabilitiesAir,
) -> Result<(PreprocessedProverData<MyConfig>, PreprocessedVerifierKey<MyConfig>), String> {
    setup_preprocessed::<MyConfig, _>(&make_config(false), air, log_rows(&air.lay))
        .map_err(|e| format!("preprocessing failed: {e:?}"))?
        .ok_or_else(|| "no preprocessed columns".to_string())
}

/// A per-process cache keyed by the layout (K, h), the only inputs of the row schedule.
type LayoutCache<V> = OnceLock<Mutex<HashMap<(usize, usize), V>>>;

/// The cached value for `air`'s (K, h), or `make()`'s, which is kept when `keep` is true.
fn memo_by_layout<V: Clone>(
    cache: &LayoutCache<V>,
    air: &LiabilitiesAir,
    keep: bool,
    make: impl FnOnce() -> Result<V, String>,
) -> Result<V, String> {
    let key = (air.lay.k, air.lay.h);
    let cache = cache.get_or_init(Default::default);
    if let Some(v) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(v.clone());
    }
    let v = make()?;
    if keep {
        cache.lock().unwrap_or_else(|e| e.into_inner()).insert(key, v.clone());
    }
    Ok(v)
}

#[allow(dead_code)]
fn _assert_perm(p: &Perm16) {
    let _ = p.permute([F::ZERO; 16]);
}
