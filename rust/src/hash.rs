//! Poseidon2 over KoalaBear, as used for account commitments, leaves and the Merkle tree.

use p3_field::{PrimeCharacteristicRing, PrimeField32};
use p3_koala_bear::{default_koalabear_poseidon2_24, KoalaBear, Poseidon2KoalaBear};
use p3_symmetric::Permutation;
use std::sync::OnceLock;

pub const WIDTH: usize = 24;
pub const MODULUS: u32 = 0x7f00_0001;

pub fn perm() -> &'static Poseidon2KoalaBear<WIDTH> {
    static P: OnceLock<Poseidon2KoalaBear<WIDTH>> = OnceLock::new();
    P.get_or_init(default_koalabear_poseidon2_24)
}

pub fn permute_u64(state: &[u64]) -> Result<Vec<u64>, String> {
    if state.len() != WIDTH {
        return Err(format!("state must hold {WIDTH} elements, got {}", state.len()));
    }
    let mut s = [KoalaBear::ZERO; WIDTH];
    for (i, &v) in state.iter().enumerate() {
        if v >= MODULUS as u64 {
            return Err(format!("element {i} = {v} is not a canonical KoalaBear element"));
        }
        s[i] = KoalaBear::from_u32(v as u32);
    }
    perm().permute_mut(&mut s);
    Ok(s.iter().map(|x| x.as_canonical_u32() as u64).collect())
}

pub const TAG_ACCOUNT: u32 = 1;
pub const TAG_LEAF: u32 = 2;
pub const TAG_NODE: u32 = 3;
pub const RATE: usize = 16;
pub type F = KoalaBear;
pub type Digest = [F; 8];

/// `sponge(tag, xs)` of docs/hashing.md.
pub fn sponge(tag: u32, xs: &[F]) -> Digest {
    let mut s = [F::ZERO; WIDTH];
    s[16] = F::from_u32(tag);
    s[17] = F::from_u32(xs.len() as u32);
    let nblocks = xs.len().div_ceil(RATE).max(1);
    for b in 0..nblocks {
        for l in 0..RATE {
            s[l] = xs.get(b * RATE + l).copied().unwrap_or(F::ZERO);
        }
        perm().permute_mut(&mut s);
    }
    core::array::from_fn(|i| s[i])
}

/// `limbs(v)`: four 16-bit little-endian limbs.
pub fn limbs(v: u64) -> [u32; 4] {
    [(v & 0xffff) as u32, ((v >> 16) & 0xffff) as u32, ((v >> 32) & 0xffff) as u32, (v >> 48) as u32]
}

/// Leaf input elements: commitment(8) ++ limbs(e_1..e_K) ++ limbs(d_1..d_K).
pub fn leaf_input(commitment: &Digest, balances: &[u64]) -> Vec<F> {
    let mut xs: Vec<F> = commitment.to_vec();
    for &v in balances {
        xs.extend(limbs(v).iter().map(|&x| F::from_u32(x)));
    }
    xs
}

pub fn leaf_hash(commitment: &Digest, balances: &[u64]) -> Digest {
    sponge(TAG_LEAF, &leaf_input(commitment, balances))
}

pub fn node_input(l: &Digest, r: &Digest) -> [F; WIDTH] {
    let mut s = [F::ZERO; WIDTH];
    s[..8].copy_from_slice(l);
    s[8..16].copy_from_slice(r);
    s[16] = F::from_u32(TAG_NODE);
    s
}

pub fn node_hash(l: &Digest, r: &Digest) -> Digest {
    let mut s = node_input(l, r);
    perm().permute_mut(&mut s);
    core::array::from_fn(|i| s[i])
}

fn bytes_to_elements(b: &[u8]) -> Vec<F> {
    b.chunks(3)
        .map(|c| {
            let mut v = 0u32;
            for (i, &x) in c.iter().enumerate() {
                v |= (x as u32) << (8 * i);
            }
            F::from_u32(v)
        })
        .collect()
}

pub fn account_commitment(id: &[u8], nonce: &[u8]) -> Result<Digest, String> {
    if id.is_empty() || id.len() > 256 {
        return Err(format!("account id must be 1..=256 bytes, got {}", id.len()));
    }
    if nonce.len() != 32 {
        return Err(format!("nonce must be exactly 32 bytes, got {}", nonce.len()));
    }
    let mut xs = vec![F::from_u32(id.len() as u32)];
    xs.extend(bytes_to_elements(id));
    xs.extend(bytes_to_elements(nonce));
    let mut h = sponge(TAG_ACCOUNT, &xs);
    h[0] = F::from_u32(h[0].as_canonical_u32() & ((1 << 30) - 1));
    h[1] = F::from_u32(h[1].as_canonical_u32() & ((1 << 30) - 1));
    Ok(h)
}

/// All levels of the Merkle tree, level 0 = leaves.
pub fn tree_levels(leaves: Vec<Digest>) -> Vec<Vec<Digest>> {
    let mut levels = vec![leaves];
    while levels.last().unwrap().len() > 1 {
        let prev = levels.last().unwrap();
        let next = prev.chunks(2).map(|p| node_hash(&p[0], &p[1])).collect();
        levels.push(next);
    }
    levels
}

pub fn verify_path(leaf: &Digest, index: u64, siblings: &[Digest], root: &Digest) -> bool {
    if siblings.len() >= 64 || index >= (1u64 << siblings.len()) {
        return false;
    }
    let mut cur = *leaf;
    for (j, s) in siblings.iter().enumerate() {
        cur = if (index >> j) & 1 == 0 { node_hash(&cur, s) } else { node_hash(s, &cur) };
    }
    &cur == root
}

pub fn to_digest(v: &[u64]) -> Result<Digest, String> {
    if v.len() != 8 {
        return Err(format!("a digest/commitment has 8 elements, got {}", v.len()));
    }
    let mut d = [F::ZERO; 8];
    for (i, &x) in v.iter().enumerate() {
        if x >= MODULUS as u64 {
            return Err(format!("element {i} = {x} is not a canonical KoalaBear element"));
        }
        d[i] = F::from_u32(x as u32);
    }
    Ok(d)
}

pub fn digest_u64(d: &Digest) -> Vec<u64> {
    d.iter().map(|x| x.as_canonical_u32() as u64).collect()
}
