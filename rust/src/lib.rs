//! `por._core`: the small, fast, cryptographic heart of por.
//!
//! Everything here is pure: bytes and integers in, bytes and integers out.
//! Python owns files, networks, databases and the CLI.

use pyo3::prelude::*;

pub mod hash;
pub mod liabilities;
pub mod py_liab;

/// Poseidon2 permutation (KoalaBear, width 24) of 24 canonical field elements.
#[pyfunction]
fn poseidon2_permute(state: Vec<u64>) -> PyResult<Vec<u64>> {
    hash::permute_u64(&state).map_err(pyo3::exceptions::PyValueError::new_err)
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("FIELD_MODULUS", hash::MODULUS)?;
    m.add("POSEIDON2_WIDTH", hash::WIDTH)?;
    m.add_function(wrap_pyfunction!(poseidon2_permute, m)?)?;
    py_liab::register(m)?;
    Ok(())
}
