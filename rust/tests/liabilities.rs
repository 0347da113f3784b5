use _core::hash::{self, Digest, F};
use _core::liabilities::*;
use p3_field::{PrimeCharacteristicRing, PrimeField64};
use p3_matrix::dense::RowMajorMatrix;

fn commit(i: u64) -> Digest {
    // strictly increasing keys
    let mut c = [F::ZERO; 8];
    c[0] = F::from_u64(i * 7 + 1);
    c[1] = F::from_u64(i * 13 + 5);
    for (j, e) in c.iter_mut().enumerate().skip(2) {
        *e = F::from_u64(1000 * i + j as u64);
    }
    c
}

struct Case {
    public: Public,
    wit_c: Vec<Digest>,
    wit_b: Vec<Vec<u64>>,
}

fn case(k: usize, h: usize, n: usize) -> Case {
    let prices: Vec<u64> = (0..k).map(|a| 1_000_000_000_000_000 + a as u64 * 12345).collect();
    let haircuts: Vec<u64> = (0..k).map(|a| 9_000 + a as u64).collect();
    let mut bals = Vec::new();
    for i in 0..n {
        let mut b = vec![0u64; 2 * k];
        for a in 0..k {
            b[a] = (i as u64 + 1) * 1_000_003 + a as u64 * (1 << 40);
            if a == k - 1 {
                b[a] = u64::MAX - i as u64; // full 64-bit range
            }
            b[k + a] = if a % 2 == 0 { b[a] / 2 } else { 0 };
        }
        bals.push(b);
    }
    Case {
        public: Public {
            round_id: b"2026-11".to_vec(),
            k,
            h,
            prices,
            haircuts,
            limb_sums: vec![],
            root: [F::ZERO; 8],
            key_lo: 0,
            key_hi: KEY_SPACE,
        },
        wit_c: (0..n as u64).map(commit).collect(),
        wit_b: bals,
    }
}

fn wit(c: &Case) -> Witness {
    Witness { commitments: c.wit_c.clone(), balances: c.wit_b.clone() }
}

#[test]
fn valid_proof_verifies_and_totals_exact() {
    let c = case(3, 2, 3);
    let (proof, public) = prove(&c.public, wit(&c)).unwrap();
    verify(&proof, &public).unwrap();
    let totals = public.totals();
    for a in 0..6 {
        let want: u128 = c.wit_b.iter().map(|b| b[a] as u128).sum();
        assert_eq!(totals[a], want, "total {a}");
    }
    // tampering with any public value fails
    let mut p2 = public.clone();
    p2.limb_sums[0][0] += 1;
    assert!(verify(&proof, &p2).is_err());
    let mut p2 = public.clone();
    p2.round_id = b"2026-12".to_vec();
    assert!(verify(&proof, &p2).is_err());
    let mut p2 = public.clone();
    p2.prices[1] += 1;
    assert!(verify(&proof, &p2).is_err());
    let mut p2 = public.clone();
    p2.haircuts[0] -= 1;
    assert!(verify(&proof, &p2).is_err());
    let mut p2 = public.clone();
    p2.root[3] += F::ONE;
    assert!(verify(&proof, &p2).is_err());
    // flipped bytes and truncation: an error, never a panic
    for pos in [0usize, 9, 20, 100, proof.len() / 2, proof.len() - 1] {
        let mut b = proof.clone();
        b[pos] ^= 1;
        assert!(verify(&b, &public).is_err(), "flip at {pos}");
    }
    assert!(verify(&proof[..proof.len() / 3], &public).is_err());
}

fn honest_trace(c: &Case) -> (LiabilitiesAir, RowMajorMatrix<F>, Vec<F>, Public) {
    let air = LiabilitiesAir::new(c.public.k, c.public.h, &c.public.prices, &c.public.haircuts).unwrap();
    let w = pad_witness(wit(c), c.public.k, c.public.h).unwrap();
    let (trace, sums, root) = generate_trace(&air, &w);
    let mut p = c.public.clone();
    p.limb_sums = sums;
    p.root = root;
    let pubs = p.to_fields(&air.lay).unwrap();
    (air, trace, pubs, p)
}

#[test]
fn honest_trace_satisfies_constraints() {
    let c = case(3, 2, 3);
    let (air, trace, pubs, _) = honest_trace(&c);
    let rep = p3_air::check_all_constraints(&air, &trace, &pubs, Some(20));
    assert!(rep.is_ok(), "{rep:?}");
}

#[test]
fn honest_root_matches_native_tree() {
    let c = case(2, 3, 5);
    let air = LiabilitiesAir::new(2, 3, &c.public.prices, &c.public.haircuts).unwrap();
    let w = pad_witness(wit(&c), 2, 3).unwrap();
    let (_t, _s, root) = generate_trace(&air, &w);
    let leaves: Vec<Digest> = (0..8).map(|i| hash::leaf_hash(&w.commitments[i], &w.balances[i])).collect();
    let lv = hash::tree_levels(leaves);
    assert_eq!(lv[3][0], root);
}

/// Prove a cheating trace directly (the honest prover would refuse) and show it is rejected:
/// the debug constraint checker reports violations AND the verifier rejects the proof.
fn assert_cheat_rejected(what: &str, air: &LiabilitiesAir, trace: RowMajorMatrix<F>, public: &Public) {
    let pubs = public.to_fields(&air.lay).unwrap();
    let rep = p3_air::check_all_constraints(air, &trace, &pubs, Some(1));
    assert!(!rep.is_ok(), "{what}: constraints hold on a cheating trace");
    let proof = prove_trace(air, trace, &pubs).unwrap();
    assert!(verify(&proof, public).is_err(), "{what}: cheating proof verified");
}

fn cheat(c: &Case, w: Witness) -> (LiabilitiesAir, RowMajorMatrix<F>, Public) {
    let air = LiabilitiesAir::new(c.public.k, c.public.h, &c.public.prices, &c.public.haircuts).unwrap();
    let w = pad_witness(w, c.public.k, c.public.h).unwrap();
    let (trace, sums, root) = generate_trace(&air, &w);
    let mut p = c.public.clone();
    p.limb_sums = sums;
    p.root = root;
    (air, trace, p)
}

#[test]
fn soundness_cheating_witnesses_rejected() {
    let c = case(2, 2, 3);
    // an insolvent customer
    let mut w = wit(&c);
    w.balances[1][2] = u64::MAX; // debt far above equity
    w.balances[1][3] = u64::MAX;
    let (air, t, p) = cheat(&c, w);
    assert_cheat_rejected("insolvent", &air, t, &p);
    // decreasing keys and equal keys
    let mut w = wit(&c);
    w.commitments.swap(0, 1);
    let (air, t, p) = cheat(&c, w);
    assert_cheat_rejected("decreasing key", &air, t, &p);
    let mut w = wit(&c);
    w.commitments[1] = w.commitments[0];
    let (air, t, p) = cheat(&c, w);
    assert_cheat_rejected("equal key", &air, t, &p);
    // totals off by one
    let (air, t, mut p) = cheat(&c, wit(&c));
    p.limb_sums[0][0] += 1;
    assert_cheat_rejected("total off by one", &air, t, &p);
    // wrong root
    let (air, t, mut p) = cheat(&c, wit(&c));
    p.root[0] += F::ONE;
    assert_cheat_rejected("wrong root", &air, t, &p);
    // a negative balance: the limb lane holds p - 1 instead of a 16-bit value
    let (air, mut t, p) = cheat(&c, wit(&c));
    let wd = air.lay.width;
    t.values[wd + 0] = -F::ONE; // row 1 (block 1, lane 0: a debt limb)
    assert_cheat_rejected("negative limb", &air, t, &p);
    // a limb of 2^16 (wraps into the next limb)
    let (air, mut t, p) = cheat(&c, wit(&c));
    t.values[wd + 0] += F::from_u64(1 << 16);
    assert_cheat_rejected("limb 2^16", &air, t, &p);
    // a leaf that leaves out an asset: the sponge length/capacity differs
    let (air, mut t, p) = cheat(&c, wit(&c));
    t.values[17] = F::from_u64(8 + 8 * 1);
    assert_cheat_rejected("short leaf", &air, t, &p);
}

#[test]
fn fri_parameters_reach_100_bits_conjectured() {
    let p = fri_params(());
    // ethSTARK conjecture: log_blowup * num_queries + query grinding bits
    assert!(p.conjectured_soundness_bits() >= 100, "{}", p.conjectured_soundness_bits());
    assert_eq!(p.conjectured_soundness_bits(), LOG_BLOWUP * NUM_QUERIES + QUERY_POW_BITS);
}

#[test]
fn seeded_proofs_are_byte_identical_and_seeds_differ() {
    let c = case(2, 2, 3);
    let s1 = Some([7u8; 32]);
    let (p1, pub1, w1) = prove_padded_seeded(&c.public, wit(&c), s1).unwrap();
    let (p1b, pub1b, w1b) = prove_padded_seeded(&c.public, wit(&c), s1).unwrap();
    assert_eq!(p1, p1b, "same seed, same inputs: proof bytes differ");
    assert_eq!(pub1, pub1b);
    assert_eq!(w1.commitments, w1b.commitments, "padding commitments differ");
    let (p2, pub2, w2) = prove_padded_seeded(&c.public, wit(&c), Some([8u8; 32])).unwrap();
    assert_ne!(p1, p2, "different seeds gave the same proof");
    assert_ne!(w1.commitments[3], w2.commitments[3], "different seeds gave the same padding");
    verify(&p1, &pub1).unwrap();
    verify(&p2, &pub2).unwrap();
    // unseeded proofs use the OS CSPRNG: two runs differ
    let (p3, pub3, _) = prove_padded_seeded(&c.public, wit(&c), None).unwrap();
    let (p4, _, _) = prove_padded_seeded(&c.public, wit(&c), None).unwrap();
    assert_ne!(p3, p4);
    verify(&p3, &pub3).unwrap();
}

fn ranged(c: &Case, lo: u64, hi: u64) -> Public {
    let mut p = c.public.clone();
    p.key_lo = lo;
    p.key_hi = hi;
    p
}

#[test]
fn key_range_proof_verifies_and_bounds_are_public() {
    let c = case(2, 3, 5);
    let first = key(&c.wit_c[0]);
    let last = key(&c.wit_c[4]);
    // the tightest range with room for the 3 padding keys
    let (lo, hi) = (first, last + 4);
    let (proof, public, w) = prove_padded_seeded(&ranged(&c, lo, hi), wit(&c), Some([1; 32])).unwrap();
    assert_eq!((public.key_lo, public.key_hi), (lo, hi));
    let keys: Vec<u64> = w.commitments.iter().map(key).collect();
    assert_eq!(&keys[5..], &[last + 1, last + 2, last + 3], "padding keys must fill (last, hi)");
    assert!(keys.iter().all(|&k| k >= lo && k < hi));
    verify(&proof, &public).unwrap();
    for (dlo, dhi) in [(1i64, 0i64), (-1, 0), (0, 1), (0, -1)] {
        let mut p = public.clone();
        p.key_lo = (p.key_lo as i64 + dlo) as u64;
        p.key_hi = (p.key_hi as i64 + dhi) as u64;
        assert!(verify(&proof, &p).is_err(), "edited key range ({dlo}, {dhi}) verified");
    }
    // the honest prover refuses keys outside the range and a range without room for padding
    assert!(prove_padded_seeded(&ranged(&c, first + 1, KEY_SPACE), wit(&c), None).is_err());
    assert!(prove_padded_seeded(&ranged(&c, 0, last), wit(&c), None).is_err());
    assert!(prove_padded_seeded(&ranged(&c, 0, last + 3), wit(&c), None)
        .unwrap_err()
        .contains("no room"));
    assert!(prove_padded_seeded(&ranged(&c, 5, 5), wit(&c), None).is_err());
    assert!(prove_padded_seeded(&ranged(&c, 0, KEY_SPACE + 1), wit(&c), None).is_err());
}

#[test]
fn soundness_keys_outside_the_range_rejected() {
    let c = case(2, 2, 3);
    let first = key(&c.wit_c[0]);
    let air = LiabilitiesAir::new(2, 2, &c.public.prices, &c.public.haircuts).unwrap();
    // first key below key_lo: claim key_lo = first + 1
    let w = pad_witness(wit(&c), 2, 2).unwrap();
    let lo = first + 1;
    let (trace, sums, root) = generate_trace_in(&air, &w, lo, KEY_SPACE);
    let mut p = ranged(&c, lo, KEY_SPACE);
    p.limb_sums = sums;
    p.root = root;
    assert_cheat_rejected("key below key_lo", &air, trace, &p);
    // last (padding) key at key_hi: claim key_hi = the last padding key
    let w = pad_witness(wit(&c), 2, 2).unwrap();
    let top = key(w.commitments.last().unwrap());
    let (trace, sums, root) = generate_trace_in(&air, &w, 0, top);
    let mut p = ranged(&c, 0, top);
    p.limb_sums = sums;
    p.root = root;
    assert_cheat_rejected("key at key_hi", &air, trace, &p);
    // a key far above key_hi: claim key_hi = the first customer's key
    let (trace, sums, root) = generate_trace_in(&air, &w, 0, first);
    let mut p = ranged(&c, 0, first);
    p.limb_sums = sums;
    p.root = root;
    assert_cheat_rejected("keys above key_hi", &air, trace, &p);
}

/// A running chunk sum that wraps the field: customer 1's lowest debt bit is set to b - D
/// (as an integer p - D + b, so the running sum passes p and wraps to S - D). The accumulator
/// column and the public sum are made consistent with the wrapped value, so the totals
/// constraints hold and the proven debt would be understated by D; the bit/range constraints
/// must reject it, and the verifier must reject the proof.
#[test]
fn soundness_wrapping_running_sum_rejected() {
    let (k, h) = (2, 2);
    let c = case(k, h, 3);
    let (air, mut t, mut p) = cheat(&c, wit(&c));
    let lay = &air.lay;
    let wd = lay.width;
    let ai = k; // debt of asset 0: amount index K -> lanes 8 + 4K.. = block 1, lane 0 for K = 2
    assert_eq!((8 + 4 * ai) / 16, 1);
    let row = (lay.nb + 2) + 1; // leaf 0 has nb + 2 rows and no merge; leaf 1's block 1
    let bit_col = DIG + 8 * ((8 + 4 * ai) % 16); // chunk 0, lowest base-4 digit of that amount
    let acc_col = lay.acc + lay.nch * ai;
    let s = p.limb_sums[ai][0];
    let d = s.min(1000);
    assert!(d > 0);
    t.values[row * wd + bit_col] -= F::from_u64(d);
    let canon = t.values[row * wd + bit_col].as_canonical_u64();
    assert!(canon > (1 << 30), "the injected 'chunk' value is a field wrap, {canon}");
    for r in row + 1..lay.n_rows {
        t.values[r * wd + acc_col] -= F::from_u64(d);
    }
    // the integer sum would be s - b + (p - d + b) >= p: it wraps to s - d
    p.limb_sums[ai][0] = s - d;
    let rep = p3_air::check_all_constraints(&air, &t, &p.to_fields(&air.lay).unwrap(), None);
    assert!(!rep.is_ok());
    assert_cheat_rejected("wrapping running sum", &air, t, &p);
}

#[test]
fn chunk_sums_cannot_wrap_the_field_and_the_height_limit_is_enforced() {
    let p = hash::MODULUS as u64;
    let max_chunk = (1u64 << CHUNK_BITS) - 1;
    // every chunk is bit-checked (< 2^12) and there are at most 2^h leaves
    assert!(max_chunk << MAX_TREE_HEIGHT < p);
    // one more level and an honest sum could pass p: the limit is tight, not decorative
    assert!(max_chunk << (MAX_TREE_HEIGHT + 1) >= p);
    assert!(MAX_TREE_HEIGHT >= 18);
    // low trees (every default shard) sum whole 16-bit limbs: tight at height 14 as well
    let max_limb = (1u64 << 16) - 1;
    assert!(max_limb << LIMB_SUM_MAX_HEIGHT < p);
    assert!(max_limb << (LIMB_SUM_MAX_HEIGHT + 1) >= p);
    assert_eq!((chunk_bits(LIMB_SUM_MAX_HEIGHT), chunks(LIMB_SUM_MAX_HEIGHT)), (16, 4));
    assert_eq!((chunk_bits(LIMB_SUM_MAX_HEIGHT + 1), chunks(LIMB_SUM_MAX_HEIGHT + 1)), (12, 6));
    // the prover refuses such a tree...
    assert!(Layout::new(2, MAX_TREE_HEIGHT + 1).unwrap_err().contains("tree height"));
    let c = case(2, 2, 3);
    let mut big = c.public.clone();
    big.h = MAX_TREE_HEIGHT + 1;
    assert!(prove(&big, wit(&c)).is_err());
    // ...and the verifier refuses the statement even with a proof whose header claims it
    let (proof, public) = prove(&c.public, wit(&c)).unwrap();
    let mut b = proof.clone();
    b[16..20].copy_from_slice(&((MAX_TREE_HEIGHT + 1) as u32).to_le_bytes());
    let mut p2 = public.clone();
    p2.h = MAX_TREE_HEIGHT + 1;
    assert!(verify(&b, &p2).unwrap_err().contains("tree height"));
    // a claimed chunk sum at or above p is refused outright
    let mut p3 = public.clone();
    p3.limb_sums[0][0] += p;
    assert!(verify(&proof, &p3).is_err());
}

#[test]
fn preprocessed_key_is_a_function_of_k_and_h_only() {
    // the verifier memoises its preprocessed commitment per (K, h); that is sound only if the
    // schedule does not depend on anything else: recompute it for other prices and haircuts
    let a = LiabilitiesAir::new(3, 2, &[5, 6, 7], &[9000, 9500, 10000]).unwrap();
    let b = LiabilitiesAir::new(3, 2, &[1, 1, 1], &[10000, 10000, 10000]).unwrap();
    let key = |air: &LiabilitiesAir| format!("{:?}", compute_preprocessed_vk(air).unwrap().commitment);
    assert_eq!(key(&a), key(&b));
    assert_eq!(format!("{:?}", preprocessed_vk(&a).unwrap().commitment), key(&b));
    // another height or asset count is another schedule
    let c = LiabilitiesAir::new(3, 3, &[5, 6, 7], &[9000, 9500, 10000]).unwrap();
    let d = LiabilitiesAir::new(4, 2, &[5, 6, 7, 8], &[9000, 9500, 10000, 10000]).unwrap();
    assert_ne!(key(&a), key(&c));
    assert_ne!(key(&a), key(&d));
    // a proof verified twice (the second time from the memoised key) still binds every value
    let c = case(3, 2, 3);
    let (proof, public) = prove(&c.public, wit(&c)).unwrap();
    verify(&proof, &public).unwrap();
    verify(&proof, &public).unwrap();
    let mut p2 = public.clone();
    p2.prices[0] += 1;
    assert!(verify(&proof, &p2).is_err());
}

/// Trees taller than LIMB_SUM_MAX_HEIGHT sum 12-bit chunks: a real proof at h = 15 (one asset,
/// so that it stays small) verifies, carries six chunk sums per amount and recombines them to
/// the exact totals, including a balance of 2^64 - 1.
#[test]
fn tall_tree_sums_12_bit_chunks_and_verifies() {
    let h = LIMB_SUM_MAX_HEIGHT + 1;
    let c = case(1, h, 3);
    let (proof, public) = prove(&c.public, wit(&c)).unwrap();
    assert!(public.limb_sums.iter().all(|s| s.len() == 6));
    let totals = public.totals();
    let eq: u128 = c.wit_b.iter().map(|b| b[0] as u128).sum();
    let debt: u128 = c.wit_b.iter().map(|b| b[1] as u128).sum();
    assert!(eq > u64::MAX as u128, "the equity total needs more than 64 bits");
    assert_eq!(totals, vec![eq, debt]);
    verify(&proof, &public).unwrap();
    let mut bad = public.clone();
    bad.limb_sums[0][5] += 1;
    assert!(verify(&proof, &bad).is_err());
    // a statement with the low-tree chunking (four 16-bit sums) is refused for this height
    let mut four = public.clone();
    four.limb_sums = vec![vec![0; 4]; 2];
    assert!(verify(&proof, &four).unwrap_err().contains("chunks"));
}

/// Plonky3's first-row selector is Z_H(x)/(x - 1), which is N (not 1) on row 0, so an AIR that
/// multiplies a cell by (1 - is_first_row) lets the prover scale that row-0 cell by (1 - N).
/// Cheat exactly that way on a chunk accumulator: a nonzero row-0 cell, every later cell and the
/// public chunk sum shifted by (1 - N) times it. The proof must not verify.
#[test]
fn soundness_row_zero_accumulator_cell_cannot_shift_a_sum() {
    let (k, h) = (2, 2);
    let c = case(k, h, 3);
    let (air, mut t, mut p) = cheat(&c, wit(&c));
    let lay = &air.lay;
    let wd = lay.width;
    let m = lay.acc; // equity of asset 0, chunk 0
    let x = F::from_u64(5);
    let delta = (F::ONE - F::from_u64(lay.n_rows as u64)) * x;
    t.values[m] = x;
    for r in 1..lay.n_rows {
        t.values[r * wd + m] += delta;
    }
    let s = F::from_u64(p.limb_sums[0][0]) + delta;
    p.limb_sums[0][0] = s.as_canonical_u64();
    let pubs = p.to_fields(&air.lay).unwrap();
    let proof = prove_trace(&air, t, &pubs).unwrap();
    assert!(verify(&proof, &p).is_err(), "a row-0 accumulator cell shifted a proven sum");
}

/// Proofs of another format version (v3 had another AIR and another Merkle leaf hash) are
/// refused by name, before any parsing.
#[test]
fn other_proof_versions_are_refused() {
    let c = case(2, 2, 3);
    let (proof, public) = prove(&c.public, wit(&c)).unwrap();
    assert_eq!(u32::from_le_bytes(proof[8..12].try_into().unwrap()), PROOF_VERSION);
    assert_eq!(PROOF_VERSION, 4);
    for v in [3u32, 5] {
        let mut b = proof.clone();
        b[8..12].copy_from_slice(&v.to_le_bytes());
        let e = verify(&b, &public).unwrap_err();
        assert!(e.contains(&format!("unsupported proof version {v}, expected 4")), "{e}");
    }
}
