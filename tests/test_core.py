"""The Python <-> Rust boundary of por._core."""

import pytest

from por import _core

# Test vector of Plonky3's own p3-koala-bear 0.8.0 test `test_default_koalabear_poseidon2_width_24`
# (the crate's default width-24 Poseidon2 over KoalaBear).
P3_INPUT = [
    886409618, 1327899896, 1902407911, 591953491, 648428576, 1844789031, 1198336108,
    355597330, 1799586834, 59617783, 790334801, 1968791836, 559272107, 31054313,
    1042221543, 474748436, 135686258, 263665994, 1962340735, 1741539604, 2026927696,
    449439011, 1131357108, 50869465,
]
P3_EXPECTED = [
    382801106, 82839311, 1503190615, 1987418517, 854076995, 1862291425, 262755189,
    1050814217, 722724562, 741265943, 1026879332, 754316749, 1966025564, 1518878196,
    502200188, 1368172258, 845459257, 1711434837, 724453836, 171032289, 655223446,
    1098636135, 407832555, 1707498914,
]


def test_field_is_koalabear():
    assert _core.FIELD_MODULUS == 2**31 - 2**24 + 1
    assert _core.POSEIDON2_WIDTH == 24


def test_poseidon2_matches_plonky3_vector():
    assert _core.poseidon2_permute(P3_INPUT) == P3_EXPECTED


def test_poseidon2_rejects_bad_input():
    with pytest.raises(ValueError, match="24 elements"):
        _core.poseidon2_permute([0] * 23)
    with pytest.raises(ValueError, match="not a canonical"):
        _core.poseidon2_permute([_core.FIELD_MODULUS] + [0] * 23)
