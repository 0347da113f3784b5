//! PyO3 surface of the liabilities proof (documented in docs/liabilities-air.md).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::hash::{self, Digest};
use crate::liabilities::{self as liab, Public, Witness};

fn catch<T>(f: impl FnOnce() -> Result<T, String> + std::panic::UnwindSafe) -> PyResult<T> {
    match std::panic::catch_unwind(f) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(PyValueError::new_err(e)),
        Err(_) => Err(PyValueError::new_err("internal error while processing the proof (rejected)")),
    }
}

fn digest(v: &[u64], what: &str) -> PyResult<Digest> {
    hash::to_digest(v).map_err(|e| PyValueError::new_err(format!("{what}: {e}")))
}

fn public_to_dict<'py>(py: Python<'py>, p: &Public) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("format", "por-liabilities-public")?;
    d.set_item("version", liab::PROOF_VERSION)?;
    d.set_item("round_id", PyBytes::new(py, &p.round_id))?;
    d.set_item("num_assets", p.k)?;
    d.set_item("tree_height", p.h)?;
    d.set_item("prices", p.prices.clone())?;
    d.set_item("haircuts", p.haircuts.clone())?;
    d.set_item("limb_sums", p.limb_sums.iter().map(|s| s.to_vec()).collect::<Vec<_>>())?;
    let t = p.totals();
    d.set_item("equity_totals", t[..p.k].to_vec())?;
    d.set_item("debt_totals", t[p.k..].to_vec())?;
    d.set_item("root", hash::digest_u64(&p.root))?;
    d.set_item("key_lo", p.key_lo)?;
    d.set_item("key_hi", p.key_hi)?;
    Ok(d)
}

fn dict_to_public(d: &Bound<'_, PyDict>) -> PyResult<Public> {
    let get = |k: &str| -> PyResult<Bound<'_, PyAny>> {
        d.get_item(k)?.ok_or_else(|| PyValueError::new_err(format!("public values: missing field '{k}'")))
    };
    let k: usize = get("num_assets")?.extract()?;
    let h: usize = get("tree_height")?.extract()?;
    let sums: Vec<Vec<u64>> = get("limb_sums")?.extract()?;
    let nch = liab::chunks(h);
    if sums.len() != 2 * k || sums.iter().any(|s| s.len() != nch) {
        return Err(PyValueError::new_err(format!(
            "public values: limb_sums must be 2K rows of {nch} integers ({}-bit chunk sums for tree height {h})",
            liab::chunk_bits(h)
        )));
    }
    let root: Vec<u64> = get("root")?.extract()?;
    // absent key bounds mean the full key range (the default statement)
    let key_lo = match d.get_item("key_lo")? {
        Some(v) => key_bound(&v, "key_lo")?,
        None => 0,
    };
    let key_hi = match d.get_item("key_hi")? {
        Some(v) => key_bound(&v, "key_hi")?,
        None => liab::KEY_SPACE,
    };
    liab::check_key_range(key_lo, key_hi).map_err(|e| PyValueError::new_err(format!("public values: {e}")))?;
    let p = Public {
        round_id: get("round_id")?.extract()?,
        k,
        h,
        prices: get("prices")?.extract()?,
        haircuts: get("haircuts")?.extract()?,
        limb_sums: sums,
        root: digest(&root, "public values: root")?,
        key_lo,
        key_hi,
    };
    // totals, when given, must be the recombined limb sums
    let t = p.totals();
    for (name, range) in [("equity_totals", 0..k), ("debt_totals", k..2 * k)] {
        if let Some(v) = d.get_item(name)? {
            let v: Vec<u128> = v.extract()?;
            if v != t[range] {
                return Err(PyValueError::new_err(format!("public values: {name} do not match limb_sums")));
            }
        }
    }
    Ok(p)
}

fn key_bound(v: &Bound<'_, PyAny>, what: &str) -> PyResult<u64> {
    v.extract::<u64>()
        .map_err(|_| PyValueError::new_err(format!("{what} must be an integer in [0, 2^60], got {v}")))
}

/// prove_liabilities(round_id, prices, haircuts, commitments, balances, tree_height,
///                   *, seed=None, key_range=None)
///   -> (proof: bytes, public: dict, levels: list[list[list[int]]])
#[pyfunction]
#[pyo3(signature = (round_id, prices, haircuts, commitments, balances, tree_height, *, seed=None, key_range=None))]
#[allow(clippy::too_many_arguments)]
pub fn prove_liabilities<'py>(
    py: Python<'py>,
    round_id: Vec<u8>,
    prices: Vec<u64>,
    haircuts: Vec<u64>,
    commitments: Vec<Vec<u64>>,
    balances: Vec<Vec<u64>>,
    tree_height: usize,
    seed: Option<Vec<u8>>,
    key_range: Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyDict>, Vec<Vec<Vec<u64>>>)> {
    let seed: Option<[u8; 32]> = match seed {
        None => None,
        Some(s) => Some(s.as_slice().try_into().map_err(|_| {
            PyValueError::new_err(format!("seed must be exactly 32 bytes, got {}", s.len()))
        })?),
    };
    let (key_lo, key_hi) = match &key_range {
        None => (0, liab::KEY_SPACE),
        Some((lo, hi)) => (key_bound(lo, "key_range lo")?, key_bound(hi, "key_range hi")?),
    };
    liab::check_key_range(key_lo, key_hi).map_err(PyValueError::new_err)?;
    let k = prices.len();
    let mut cs = Vec::with_capacity(commitments.len());
    for (i, c) in commitments.iter().enumerate() {
        cs.push(digest(c, &format!("commitment {i}"))?);
    }
    let public = Public {
        round_id,
        k,
        h: tree_height,
        prices,
        haircuts,
        limb_sums: vec![],
        root: [hash::F::default(); 8],
        key_lo,
        key_hi,
    };
    let (proof, public, levels) = py.detach(|| {
        catch(move || {
            let wit = Witness { commitments: cs, balances };
            let (proof, public, padded) = liab::prove_padded_seeded(&public, wit, seed)?;
            let leaves: Vec<Digest> = padded
                .commitments
                .iter()
                .zip(&padded.balances)
                .map(|(c, b)| hash::leaf_hash(c, b))
                .collect();
            let levels = hash::tree_levels(leaves);
            if levels.last().unwrap()[0] != public.root {
                return Err("internal error: tree root mismatch".into());
            }
            let lv: Vec<Vec<Vec<u64>>> =
                levels.iter().map(|l| l.iter().map(hash::digest_u64).collect()).collect();
            Ok((proof, public, lv))
        })
    })?;
    Ok((PyBytes::new(py, &proof), public_to_dict(py, &public)?, levels))
}

/// verify_liabilities(proof: bytes, public: dict) -> dict (raises ValueError)
#[pyfunction]
pub fn verify_liabilities<'py>(
    py: Python<'py>,
    proof: Vec<u8>,
    public: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyDict>> {
    let p = dict_to_public(public)?;
    let p2 = p.clone();
    py.detach(|| catch(move || liab::verify(&proof, &p2)))?;
    let d = public_to_dict(py, &p)?;
    d.set_item("verified", true)?;
    Ok(d)
}

#[pyfunction]
pub fn leaf_hash(commitment: Vec<u64>, balances: Vec<u64>) -> PyResult<Vec<u64>> {
    let c = digest(&commitment, "commitment")?;
    Ok(hash::digest_u64(&hash::leaf_hash(&c, &balances)))
}

#[pyfunction]
pub fn node_hash(left: Vec<u64>, right: Vec<u64>) -> PyResult<Vec<u64>> {
    Ok(hash::digest_u64(&hash::node_hash(&digest(&left, "left")?, &digest(&right, "right")?)))
}

#[pyfunction]
pub fn account_commitment(account_id: Vec<u8>, nonce: Vec<u8>) -> PyResult<Vec<u64>> {
    hash::account_commitment(&account_id, &nonce)
        .map(|d| hash::digest_u64(&d))
        .map_err(PyValueError::new_err)
}

/// merkle_path(levels, index) -> siblings (bottom-up)
#[pyfunction]
pub fn merkle_path(levels: Vec<Vec<Vec<u64>>>, index: usize) -> PyResult<Vec<Vec<u64>>> {
    if levels.is_empty() || index >= levels[0].len() {
        return Err(PyValueError::new_err(format!("leaf index {index} out of range")));
    }
    let h = levels.len() - 1;
    Ok((0..h)
        .map(|j| levels[j].get((index >> j) ^ 1).cloned().unwrap_or_default())
        .collect())
}

#[pyfunction]
pub fn verify_path(leaf: Vec<u64>, index: u64, siblings: Vec<Vec<u64>>, root: Vec<u64>) -> PyResult<bool> {
    let mut sib = Vec::with_capacity(siblings.len());
    for (j, s) in siblings.iter().enumerate() {
        sib.push(digest(s, &format!("sibling {j}"))?);
    }
    Ok(hash::verify_path(&digest(&leaf, "leaf")?, index, &sib, &digest(&root, "root")?))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("MAX_TREE_HEIGHT", liab::MAX_TREE_HEIGHT)?;
    m.add("MAX_ASSETS", liab::MAX_ASSETS)?;
    m.add("LIABILITIES_PROOF_VERSION", liab::PROOF_VERSION)?;
    m.add("KEY_SPACE", liab::KEY_SPACE)?;
    m.add("CHUNK_BITS", liab::CHUNK_BITS)?;
    m.add("LIMB_SUM_MAX_HEIGHT", liab::LIMB_SUM_MAX_HEIGHT)?;
    m.add_function(wrap_pyfunction!(prove_liabilities, m)?)?;
    m.add_function(wrap_pyfunction!(verify_liabilities, m)?)?;
    m.add_function(wrap_pyfunction!(leaf_hash, m)?)?;
    m.add_function(wrap_pyfunction!(node_hash, m)?)?;
    m.add_function(wrap_pyfunction!(account_commitment, m)?)?;
    m.add_function(wrap_pyfunction!(merkle_path, m)?)?;
    m.add_function(wrap_pyfunction!(verify_path, m)?)?;
    Ok(())
}
