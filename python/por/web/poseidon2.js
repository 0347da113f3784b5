/*
 * poseidon2.js - the hashing of docs/hashing.md (format version 1), in the browser.
 *
 * A third, independent implementation (after the Rust core and python/por/poseidon2.py) of
 *   - Poseidon2 over KoalaBear (p = 2^31 - 2^24 + 1), width 24, S-box x^3, 8 full rounds
 *     (4 + 4) and 23 partial rounds, as Plonky3 0.8.0's default_koalabear_poseidon2_24;
 *   - the overwrite-mode sponge, the account commitment, the leaf, the Merkle node and the
 *     inclusion path walk;
 *   - the canonical digest encodings of docs/inclusion-proof.md.
 *
 * The round constants are NOT copied from anywhere: they are generated here, when the script
 * loads, by the Grain LFSR of the Poseidon paper (Appendix F) with field_type = 1, sbox = 0,
 * n = 31, t = 24, R_F = 8, R_P = 23, consumed as 4x24 initial external, 23 internal, 4x24
 * terminal external constants (exactly as docs/hashing.md and python/por/poseidon2.py say).
 * tests/test_web_verifier.py runs this file in Chromium against every vector in
 * tests/vectors/ and against the Python twin on random inputs.
 *
 * Arithmetic: field elements are JS Numbers in [0, p). A product of two elements needs 62
 * bits, more than a double holds exactly, so mul() splits one factor into 15 + 16 bits and
 * every intermediate stays below 2^48 (exact). BigInt is used only for 64-bit amounts.
 *
 * No dependencies, no network. Exposes one global: PorHash.
 */
(function (global) {
  "use strict";

  const P = 2130706433; // 0x7f000001
  const WIDTH = 24;
  const RATE = 16;
  const DIGEST_LEN = 8;
  const HALF_FULL_ROUNDS = 4;
  const PARTIAL_ROUNDS = 23;
  const FIELD_BITS = 31;
  const TAG_ACCOUNT = 1;
  const TAG_LEAF = 2;
  const TAG_NODE = 3;
  const NONCE_BYTES = 32;
  const MAX_ACCOUNT_ID_BYTES = 256;
  const KEY_MASK = (1 << 30) - 1;
  const AMOUNT_LIMIT = 1n << 64n;

  class HashInputError extends Error {
    constructor(message) {
      super(message);
      this.name = "HashInputError";
    }
  }

  // --- field --------------------------------------------------------------------------

  /** a * b mod p for a, b in [0, p), exact with doubles. */
  function mul(a, b) {
    const lo = b & 0xffff; // < 2^16
    const hi = (b - lo) / 65536; // < 2^15
    // a*hi < 2^46; (.. mod p) * 2^16 < 2^47; a*lo < 2^47; sum < 2^48
    return (((a * hi) % P) * 65536 + a * lo) % P;
  }

  function cube(x) {
    return mul(mul(x, x), x);
  }

  function pow(x, e) {
    let r = 1;
    let b = x % P;
    while (e > 0) {
      if (e & 1) r = mul(r, b);
      b = mul(b, b);
      e = Math.floor(e / 2);
    }
    return r;
  }

  function inv(x) {
    if (x % P === 0) throw new HashInputError("0 has no inverse");
    return pow(x, P - 2);
  }

  function neg(x) {
    return (P - (x % P)) % P;
  }

  // --- Grain LFSR (Poseidon paper, Appendix F) -----------------------------------------

  /**
   * The self-shrunk output bits of the 80-bit Grain LFSR seeded with the parameters:
   * 2 bits field type, 4 bits S-box, 12 bits n, 12 bits t, 10 bits R_F, 10 bits R_P, then 30
   * ones (most significant first). b[i+80] = b[i+62]^b[i+51]^b[i+38]^b[i+23]^b[i+13]^b[i].
   * 160 bits are discarded; then pairs are drawn and the second bit is kept when the first
   * is 1.
   */
  function grainBitSource(fieldType, sbox, n, t, rf, rp) {
    const seed = [];
    const put = (value, width) => {
      if (!(value >= 0 && value < 2 ** width)) {
        throw new HashInputError(`Grain parameter ${value} does not fit in ${width} bits`);
      }
      for (let i = width - 1; i >= 0; i--) seed.push(Math.floor(value / 2 ** i) % 2);
    };
    put(fieldType, 2);
    put(sbox, 4);
    put(n, 12);
    put(t, 12);
    put(rf, 10);
    put(rp, 10);
    for (let i = 0; i < 30; i++) seed.push(1);
    const s = Uint8Array.from(seed); // ring buffer: b[i] = s[(head + i) % 80]
    let head = 0;
    const step = () => {
      const bit =
        s[(head + 62) % 80] ^ s[(head + 51) % 80] ^ s[(head + 38) % 80] ^
        s[(head + 23) % 80] ^ s[(head + 13) % 80] ^ s[head];
      s[head] = bit; // the oldest bit leaves, the new one becomes b[79]
      head = (head + 1) % 80;
      return bit;
    };
    for (let i = 0; i < 160; i++) step();
    return () => {
      for (;;) {
        const first = step();
        const second = step();
        if (first === 1) return second;
      }
    };
  }

  /** The first `count` field elements of the Grain stream (31-bit samples, big-endian,
   *  rejected when >= p) for width t and R_F, R_P rounds. */
  function grainFieldElements(count, t = WIDTH, rf = 2 * HALF_FULL_ROUNDS, rp = PARTIAL_ROUNDS) {
    const next = grainBitSource(1, 0, FIELD_BITS, t, rf, rp);
    const out = [];
    while (out.length < count) {
      let v = 0;
      for (let i = 0; i < FIELD_BITS; i++) v = v * 2 + next();
      if (v < P) out.push(v);
    }
    return out;
  }

  const stream = grainFieldElements(2 * HALF_FULL_ROUNDS * WIDTH + PARTIAL_ROUNDS);
  const RC_EXTERNAL_INITIAL = [];
  const RC_EXTERNAL_TERMINAL = [];
  let pos = 0;
  for (let r = 0; r < HALF_FULL_ROUNDS; r++, pos += WIDTH) {
    RC_EXTERNAL_INITIAL.push(stream.slice(pos, pos + WIDTH));
  }
  const RC_INTERNAL = stream.slice(pos, pos + PARTIAL_ROUNDS);
  pos += PARTIAL_ROUNDS;
  for (let r = 0; r < HALF_FULL_ROUNDS; r++, pos += WIDTH) {
    RC_EXTERNAL_TERMINAL.push(stream.slice(pos, pos + WIDTH));
  }

  // --- linear layers ------------------------------------------------------------------

  const invPow2 = (k) => inv(pow(2, k));
  /** M_I = 1 1^T + diag(V) */
  const INTERNAL_DIAG = [
    neg(2), 1, 2, invPow2(1), 3, 4, neg(invPow2(1)), neg(3), neg(4),
    invPow2(8), invPow2(2), invPow2(3), invPow2(4), invPow2(5), invPow2(6), invPow2(24),
    neg(invPow2(8)), neg(invPow2(3)), neg(invPow2(4)), neg(invPow2(5)), neg(invPow2(6)),
    neg(invPow2(7)), neg(invPow2(9)), neg(invPow2(24)),
  ];

  /** M_E: M4 = [[2,3,1,1],[1,2,3,1],[1,1,2,3],[3,1,1,2]] on each group of 4, then add the sum
   *  of all elements of equal index mod 4 (the circ(2 M4, M4, ..., M4) block matrix). */
  function externalLayer(s) {
    const y = new Array(WIDTH);
    for (let g = 0; g < WIDTH; g += 4) {
      const a = s[g], b = s[g + 1], c = s[g + 2], d = s[g + 3];
      y[g] = 2 * a + 3 * b + c + d; // < 7 * 2^31
      y[g + 1] = a + 2 * b + 3 * c + d;
      y[g + 2] = a + b + 2 * c + 3 * d;
      y[g + 3] = 3 * a + b + c + 2 * d;
    }
    const sums = [0, 0, 0, 0];
    for (let i = 0; i < WIDTH; i++) sums[i & 3] += y[i]; // < 2^37
    const out = new Array(WIDTH);
    for (let i = 0; i < WIDTH; i++) out[i] = (y[i] + sums[i & 3]) % P;
    return out;
  }

  function internalLayer(s) {
    let total = 0;
    for (let i = 0; i < WIDTH; i++) total += s[i]; // < 2^36
    const out = new Array(WIDTH);
    for (let i = 0; i < WIDTH; i++) out[i] = (total + mul(INTERNAL_DIAG[i], s[i])) % P;
    return out;
  }

  // --- the permutation ----------------------------------------------------------------

  function checkElements(xs, what) {
    if (!Array.isArray(xs)) throw new HashInputError(`${what} must be an array`);
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i];
      if (typeof x !== "number" || !Number.isInteger(x) || x < 0 || x >= P) {
        throw new HashInputError(`${what}[${i}] = ${x} is not a canonical field element`);
      }
    }
    return xs.slice();
  }

  function permuteUnchecked(state) {
    let s = externalLayer(state);
    for (const rc of RC_EXTERNAL_INITIAL) {
      for (let i = 0; i < WIDTH; i++) s[i] = cube((s[i] + rc[i]) % P);
      s = externalLayer(s);
    }
    for (const c of RC_INTERNAL) {
      s[0] = cube((s[0] + c) % P);
      s = internalLayer(s);
    }
    for (const rc of RC_EXTERNAL_TERMINAL) {
      for (let i = 0; i < WIDTH; i++) s[i] = cube((s[i] + rc[i]) % P);
      s = externalLayer(s);
    }
    return s;
  }

  /** Poseidon2-KoalaBear-24 on 24 canonical elements; returns a new array. */
  function permute(state) {
    const s = checkElements(state, "state");
    if (s.length !== WIDTH) {
      throw new HashInputError(`a Poseidon2 state has exactly ${WIDTH} elements, got ${s.length}`);
    }
    return permuteUnchecked(s);
  }

  // --- sponge, commitment, leaf, node ------------------------------------------------------

  function sponge(tag, xs) {
    checkElements([tag], "tag");
    xs = checkElements(xs, "xs");
    const state = new Array(WIDTH).fill(0);
    state[16] = tag;
    state[17] = xs.length;
    const nblocks = Math.max(1, Math.ceil(xs.length / RATE));
    let s = state;
    for (let b = 0; b < nblocks; b++) {
      for (let i = 0; i < RATE; i++) {
        const k = b * RATE + i;
        s[i] = k < xs.length ? xs[k] : 0;
      }
      s = permuteUnchecked(s);
    }
    return s.slice(0, DIGEST_LEN);
  }

  function bytesToElements(bytes) {
    const out = [];
    for (let i = 0; i < bytes.length; i += 3) {
      let v = 0;
      for (let j = Math.min(i + 3, bytes.length) - 1; j >= i; j--) v = v * 256 + bytes[j];
      out.push(v);
    }
    return out;
  }

  function accountIdBytes(accountId) {
    if (typeof accountId !== "string") throw new HashInputError("account id must be a string");
    const raw = new TextEncoder().encode(accountId);
    if (raw.length < 1 || raw.length > MAX_ACCOUNT_ID_BYTES) {
      throw new HashInputError(
        `account id must be 1 to ${MAX_ACCOUNT_ID_BYTES} bytes of UTF-8, got ${raw.length}`);
    }
    // TextEncoder replaces lone surrogates; such a string has no UTF-8 form.
    if (new TextDecoder().decode(raw) !== accountId) {
      throw new HashInputError("account id is not valid Unicode text");
    }
    return raw;
  }

  /** commitment = sponge(TAG_ACCOUNT, [len(id)] + b2e(id) + b2e(nonce)); c0, c1 mod 2^30. */
  function accountCommitment(accountId, nonce) {
    const raw = accountIdBytes(accountId);
    if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_BYTES) {
      throw new HashInputError(`nonce must be exactly ${NONCE_BYTES} bytes`);
    }
    const xs = [raw.length].concat(bytesToElements(raw), bytesToElements(nonce));
    const h = sponge(TAG_ACCOUNT, xs);
    return [h[0] & KEY_MASK, h[1] & KEY_MASK].concat(h.slice(2));
  }

  function toAmount(v, what) {
    let b;
    if (typeof v === "bigint") b = v;
    else if (typeof v === "string" && /^(0|[1-9][0-9]*)$/.test(v)) b = BigInt(v);
    else if (typeof v === "number" && Number.isSafeInteger(v)) b = BigInt(v);
    else throw new HashInputError(`${what} = ${v} is not an integer amount`);
    if (b < 0n || b >= AMOUNT_LIMIT) throw new HashInputError(`${what} = ${v} is not in [0, 2^64)`);
    return b;
  }

  /** Four 16-bit little-endian limbs of an amount in [0, 2^64) (BigInt, string or number). */
  function limbs(v) {
    const b = toAmount(v, "amount");
    return [0n, 16n, 32n, 48n].map((k) => Number((b >> k) & 0xffffn));
  }

  /** leaf = sponge(TAG_LEAF, commitment + limbs(e_1..e_K) + limbs(d_1..d_K)). */
  function leafHash(commitment, equity, debt) {
    const c = checkDigest(commitment, "commitment");
    if (equity.length !== debt.length) {
      throw new HashInputError(`${equity.length} equity amounts but ${debt.length} debt amounts`);
    }
    if (equity.length === 0) throw new HashInputError("a leaf needs at least one asset");
    let xs = c;
    equity.forEach((v, i) => { xs = xs.concat(limbs(toAmount(v, `equity[${i}]`))); });
    debt.forEach((v, i) => { xs = xs.concat(limbs(toAmount(v, `debt[${i}]`))); });
    return sponge(TAG_LEAF, xs);
  }

  function checkDigest(d, what = "digest") {
    const c = checkElements(d, what);
    if (c.length !== DIGEST_LEN) throw new HashInputError(`${what} must have ${DIGEST_LEN} elements`);
    return c;
  }

  /** node(l, r) = P([l, r, TAG_NODE, 0 x 7])[0..8] */
  function nodeHash(left, right) {
    const state = checkDigest(left, "left").concat(checkDigest(right, "right"), [TAG_NODE],
      new Array(7).fill(0));
    return permuteUnchecked(state).slice(0, DIGEST_LEN);
  }

  /** All levels of the tree over 2^h leaves, leaves first, root last. */
  function buildTree(leaves) {
    const n = leaves.length;
    if (n < 2 || (n & (n - 1)) !== 0) {
      throw new HashInputError(`the number of leaves must be a power of two >= 2, got ${n}`);
    }
    const levels = [leaves.map((l, i) => checkDigest(l, `leaf ${i}`))];
    while (levels[levels.length - 1].length > 1) {
      const cur = levels[levels.length - 1];
      const next = [];
      for (let i = 0; i < cur.length; i += 2) next.push(nodeHash(cur[i], cur[i + 1]));
      levels.push(next);
    }
    return levels;
  }

  /** Walk an inclusion path bottom-up: at level j, bit j of index says which side we are. */
  function walkPath(leaf, index, siblings) {
    const h = siblings.length;
    if (!Number.isSafeInteger(index) || index < 0 || index >= 2 ** h) {
      throw new HashInputError(`leaf index ${index} is outside [0, 2^${h})`);
    }
    let cur = checkDigest(leaf, "leaf");
    for (let j = 0; j < h; j++) {
      const s = checkDigest(siblings[j], `sibling ${j}`);
      const bit = Math.floor(index / 2 ** j) % 2;
      cur = bit ? nodeHash(s, cur) : nodeHash(cur, s);
    }
    return cur;
  }

  // --- canonical encodings ---------------------------------------------------------------

  function digestToBytes(d) {
    const c = checkDigest(d);
    const out = new Uint8Array(32);
    c.forEach((w, i) => {
      out[4 * i] = w & 0xff;
      out[4 * i + 1] = (w >>> 8) & 0xff;
      out[4 * i + 2] = (w >>> 16) & 0xff;
      out[4 * i + 3] = (w >>> 24) & 0xff;
    });
    return out;
  }

  function digestFromBytes(b) {
    if (b.length !== 32) throw new HashInputError(`a digest is 32 bytes, got ${b.length}`);
    const out = [];
    for (let i = 0; i < 8; i++) {
      const w = b[4 * i] + b[4 * i + 1] * 256 + b[4 * i + 2] * 65536 + b[4 * i + 3] * 16777216;
      if (w >= P) throw new HashInputError(`digest word ${i} = ${w} is not a canonical field element`);
      out.push(w);
    }
    return out;
  }

  function bytesToHex(b) {
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }

  function hexToBytes(s) {
    if (typeof s !== "string" || !/^([0-9a-f]{2})*$/.test(s)) {
      throw new HashInputError("not lowercase hex");
    }
    const out = new Uint8Array(s.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
    return out;
  }

  function digestToHex(d) {
    return bytesToHex(digestToBytes(d));
  }

  function digestFromHex(s) {
    if (typeof s !== "string" || !/^[0-9a-f]{64}$/.test(s)) {
      throw new HashInputError(`${JSON.stringify(s)} is not a digest: expected exactly 64 lowercase hex digits`);
    }
    return digestFromBytes(hexToBytes(s));
  }

  /** Standard base64 (RFC 4648 section 4), canonical form only. */
  function base64Decode(s) {
    if (typeof s !== "string" || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) {
      throw new HashInputError("not standard padded base64");
    }
    let bin;
    try {
      bin = atob(s);
    } catch (e) {
      throw new HashInputError("not standard padded base64");
    }
    const out = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    if (base64Encode(out) !== s) throw new HashInputError("not the canonical base64 encoding");
    return out;
  }

  function base64Encode(bytes) {
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin);
  }

  global.PorHash = Object.freeze({
    P, WIDTH, RATE, DIGEST_LEN, HALF_FULL_ROUNDS, PARTIAL_ROUNDS, TAG_ACCOUNT, TAG_LEAF,
    TAG_NODE, NONCE_BYTES, MAX_ACCOUNT_ID_BYTES, KEY_MASK, AMOUNT_LIMIT,
    RC_EXTERNAL_INITIAL, RC_INTERNAL, RC_EXTERNAL_TERMINAL, INTERNAL_DIAG,
    HashInputError, mul, grainFieldElements, externalLayer, internalLayer, permute, sponge,
    bytesToElements, accountIdBytes, accountCommitment, limbs, leafHash, nodeHash, buildTree,
    walkPath, checkDigest, digestToBytes, digestFromBytes, digestToHex, digestFromHex,
    bytesToHex, hexToBytes, base64Decode, base64Encode,
  });
})(typeof window !== "undefined" ? window : globalThis);
