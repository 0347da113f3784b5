"""Poseidon2 over KoalaBear, width 24, in pure Python (the customer-side twin).

This is an independent implementation of the permutation that Plonky3 0.8.0 calls
``p3_koala_bear::default_koalabear_poseidon2_24``, written from the Poseidon2 paper
(Grassi, Khovratovich, Schofnegger, eprint 2023/323) so that a customer can check an
inclusion proof with nothing but Python. It must agree with ``por._core.poseidon2_permute``
on every input; ``tests/test_poseidon2.py`` checks that on Plonky3's own vector, on the
vectors in ``tests/vectors/poseidon2.json`` and on random inputs.

Parameters
----------
* Field: KoalaBear, ``p = 2**31 - 2**24 + 1``; elements are canonical ints in ``[0, p)``.
* Width ``t = 24``, S-box ``x -> x**3`` (a permutation because ``gcd(3, p - 1) = 1``).
* ``R_F = 8`` full rounds (4 before and 4 after the partial rounds), ``R_P = 23`` partial rounds.

Round structure (``permute``)
-----------------------------
1. Apply the external linear layer ``M_E`` once to the input.
2. 4 initial full rounds: add a 24-element round constant, cube every element, apply ``M_E``.
3. 23 partial rounds: add a scalar round constant to element 0, cube element 0 only, apply
   the internal linear layer ``M_I``.
4. 4 terminal full rounds, as in step 2 with their own constants.

Linear layers
-------------
* ``M_E`` (external): the 24x24 block matrix ``circ(2*M4, M4, ..., M4)`` built from the 4x4
  MDS matrix ``M4 = [[2,3,1,1],[1,2,3,1],[1,1,2,3],[3,1,1,2]]``: first every consecutive
  group of 4 is multiplied by ``M4``; then each element ``i`` gets the sum of all elements
  with the same index ``i mod 4`` added (which gives the doubled diagonal block).
* ``M_I`` (internal): ``1 * 1^T + diag(V)``, i.e. ``y_i = sum(x) + V_i * x_i``, with
  ``V = [-2, 1, 2, 1/2, 3, 4, -1/2, -3, -4, 1/2^8, 1/4, 1/8, 1/16, 1/32, 1/64, 1/2^24,
  -1/2^8, -1/8, -1/16, -1/32, -1/64, -1/2^7, -1/2^9, -1/2^24]`` (field elements; ``1/2^k``
  is the inverse of ``2^k`` mod p).

Round constants
---------------
Generated here, at import, by the Grain LFSR of the Poseidon paper (Appendix F) with the
parameters ``field_type = 1`` (prime field), ``sbox = 0`` (``x**alpha``), ``n = 31`` bits,
``t = 24``, ``R_F = 8``, ``R_P = 23``. The stream of field elements (31-bit big-endian
samples, rejected when ``>= p``) is consumed in this order: ``4 * 24`` initial external
constants, then ``23`` internal (partial-round) scalars, then ``4 * 24`` terminal external
constants — the "compact" layout of the Poseidon2 reference scripts, which is what Plonky3's
tables hold.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

P = 2**31 - 2**24 + 1  # 2130706433 = 0x7f000001
WIDTH = 24
SBOX_DEGREE = 3
HALF_FULL_ROUNDS = 4
FULL_ROUNDS = 2 * HALF_FULL_ROUNDS
PARTIAL_ROUNDS = 23
FIELD_BITS = 31

# ---------------------------------------------------------------------------------------
# Grain LFSR (Poseidon paper, Appendix F: "Generation of round constants").
# ---------------------------------------------------------------------------------------


def _grain_bits(field_type: int, sbox: int, n: int, t: int, r_f: int, r_p: int) -> Iterator[int]:
    """Yield the self-shrunk output bits of the 80-bit Grain LFSR seeded with the parameters.

    The initial state is, most significant first: 2 bits field type, 4 bits S-box type,
    12 bits ``n``, 12 bits ``t``, 10 bits ``R_F``, 10 bits ``R_P``, 30 bits set to 1.
    Feedback: ``b[i+80] = b[i+62] ^ b[i+51] ^ b[i+38] ^ b[i+23] ^ b[i+13] ^ b[i]``.
    The first 160 bits are discarded; then bits are drawn in pairs and, if the first bit
    of a pair is 1, the second is output, else the pair is dropped.
    """
    seed = 0
    for value, width in ((field_type, 2), (sbox, 4), (n, 12), (t, 12), (r_f, 10), (r_p, 10)):
        if not 0 <= value < (1 << width):
            raise ValueError(f"Grain parameter {value} does not fit in {width} bits")
        seed = (seed << width) | value
    seed = (seed << 30) | ((1 << 30) - 1)
    # Keep the 80 bits in a Python int, bit 79 = b[0] (the oldest bit).
    state = seed
    mask = (1 << 80) - 1

    def step() -> int:
        nonlocal state
        new = (
            (state >> (79 - 62))
            ^ (state >> (79 - 51))
            ^ (state >> (79 - 38))
            ^ (state >> (79 - 23))
            ^ (state >> (79 - 13))
            ^ (state >> 79)
        ) & 1
        state = ((state << 1) | new) & mask
        return new

    for _ in range(160):
        step()
    while True:
        first = step()
        second = step()
        if first == 1:
            yield second


def grain_field_elements(count: int, *, t: int = WIDTH, r_f: int = FULL_ROUNDS,
                         r_p: int = PARTIAL_ROUNDS) -> list[int]:
    """The first ``count`` KoalaBear elements of the Grain stream for (t, R_F, R_P)."""
    bits = _grain_bits(1, 0, FIELD_BITS, t, r_f, r_p)
    out: list[int] = []
    while len(out) < count:
        v = 0
        for _ in range(FIELD_BITS):
            v = (v << 1) | next(bits)
        if v < P:
            out.append(v)
    return out


def _make_constants() -> tuple[list[list[int]], list[int], list[list[int]]]:
    stream = grain_field_elements(2 * HALF_FULL_ROUNDS * WIDTH + PARTIAL_ROUNDS)
    pos = 0
    initial = []
    for _ in range(HALF_FULL_ROUNDS):
        initial.append(stream[pos:pos + WIDTH])
        pos += WIDTH
    internal = stream[pos:pos + PARTIAL_ROUNDS]
    pos += PARTIAL_ROUNDS
    terminal = []
    for _ in range(HALF_FULL_ROUNDS):
        terminal.append(stream[pos:pos + WIDTH])
        pos += WIDTH
    return initial, internal, terminal


#: Round constants: 4 x 24 initial external, 23 internal scalars, 4 x 24 terminal external.
RC_EXTERNAL_INITIAL, RC_INTERNAL, RC_EXTERNAL_TERMINAL = _make_constants()

# ---------------------------------------------------------------------------------------
# Linear layers.
# ---------------------------------------------------------------------------------------


def _inv_pow2(k: int) -> int:
    return pow(pow(2, k, P), P - 2, P)


#: The internal diagonal V (M_I = ones + diag(V)), as canonical field elements.
INTERNAL_DIAG: tuple[int, ...] = tuple(
    v % P
    for v in (
        -2, 1, 2, _inv_pow2(1), 3, 4, -_inv_pow2(1), -3, -4,
        _inv_pow2(8), _inv_pow2(2), _inv_pow2(3), _inv_pow2(4), _inv_pow2(5), _inv_pow2(6),
        _inv_pow2(24),
        -_inv_pow2(8), -_inv_pow2(3), -_inv_pow2(4), -_inv_pow2(5), -_inv_pow2(6),
        -_inv_pow2(7), -_inv_pow2(9), -_inv_pow2(24),
    )
)
assert len(INTERNAL_DIAG) == WIDTH

#: The 4x4 MDS block of the external layer.
M4: tuple[tuple[int, ...], ...] = ((2, 3, 1, 1), (1, 2, 3, 1), (1, 1, 2, 3), (3, 1, 1, 2))


def external_linear_layer(s: list[int]) -> list[int]:
    """M_E: M4 on each group of 4, then add the column sums of equal index mod 4."""
    y = [0] * WIDTH
    for g in range(0, WIDTH, 4):
        a, b, c, d = s[g], s[g + 1], s[g + 2], s[g + 3]
        y[g] = 2 * a + 3 * b + c + d
        y[g + 1] = a + 2 * b + 3 * c + d
        y[g + 2] = a + b + 2 * c + 3 * d
        y[g + 3] = 3 * a + b + c + 2 * d
    sums = [sum(y[k::4]) for k in range(4)]
    return [(y[i] + sums[i & 3]) % P for i in range(WIDTH)]


def internal_linear_layer(s: list[int]) -> list[int]:
    """M_I: y_i = sum(s) + V_i * s_i."""
    total = sum(s)
    return [(total + v * x) % P for v, x in zip(INTERNAL_DIAG, s)]


# ---------------------------------------------------------------------------------------
# The permutation.
# ---------------------------------------------------------------------------------------


def _check_state(state: Sequence[int]) -> list[int]:
    if isinstance(state, (str, bytes)) or len(state) != WIDTH:
        raise ValueError(f"a Poseidon2 state has exactly {WIDTH} elements, got {len(state)}")
    out = []
    for i, x in enumerate(state):
        if type(x) is not int:  # bool is excluded on purpose
            raise TypeError(f"state[{i}] is {type(x).__name__}, not int")
        if not 0 <= x < P:
            raise ValueError(f"state[{i}] = {x} is not a canonical KoalaBear element (0 <= x < p)")
        out.append(x)
    return out


def permute(state: Sequence[int]) -> list[int]:
    """Poseidon2-KoalaBear-24 on a list of 24 canonical elements; returns a new list."""
    s = _check_state(state)
    return _permute_unchecked(s)


def _permute_unchecked(s: list[int]) -> list[int]:
    p = P
    s = external_linear_layer(s)
    for rc in RC_EXTERNAL_INITIAL:
        s = external_linear_layer([pow(x + c, 3, p) for x, c in zip(s, rc)])
    diag = INTERNAL_DIAG
    for c in RC_INTERNAL:
        x0 = pow(s[0] + c, 3, p)
        s[0] = x0
        total = sum(s)
        s = [(total + v * x) % p for v, x in zip(diag, s)]
    for rc in RC_EXTERNAL_TERMINAL:
        s = external_linear_layer([pow(x + c, 3, p) for x, c in zip(s, rc)])
    return s


__all__ = [
    "P", "WIDTH", "SBOX_DEGREE", "HALF_FULL_ROUNDS", "FULL_ROUNDS", "PARTIAL_ROUNDS",
    "RC_EXTERNAL_INITIAL", "RC_INTERNAL", "RC_EXTERNAL_TERMINAL", "INTERNAL_DIAG", "M4",
    "grain_field_elements", "external_linear_layer", "internal_linear_layer", "permute",
]
