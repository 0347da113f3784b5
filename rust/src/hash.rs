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
