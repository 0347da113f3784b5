/*
 * verifier.js - the customer's inclusion check (docs/inclusion-proof.md), in the browser.
 *
 * The same steps, in the same order and with the same failure reasons, as
 * por.inclusion.verify_inclusion: format, round, assets, root, height, then recompute the
 * commitment and the leaf and walk the path (commitment, balance, path). The root, the round,
 * the asset order and the tree height come from the round's public statement
 * (../bundle/liabilities/public.json), never from the customer's file.
 *
 * Nothing the customer pastes or uploads is sent anywhere: the only requests are GETs of the
 * public bundle files and, if the customer enters a token, GET ../api/v1/proof with it.
 * Exposes one global, PorVerifier (the pure functions, for tests), and wires the page.
 */
(function (global) {
  "use strict";

  const H = global.PorHash;
  const PUBLIC_URL = "../bundle/liabilities/public.json";
  const REPORT_URL = "../bundle/report.json";
  const PROOF_API_URL = "../api/v1/proof";
  const MAX_PROOF_BYTES = 64 * 1024;
  const MAX_TREE_HEIGHT = 32;
  const MAX_ASSETS = 256;
  const AMOUNT_RE = /^(0|[1-9][0-9]{0,19})$/;
  const ROUND_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
  const SYMBOL_RE = /^[A-Z0-9][A-Z0-9._-]{0,15}$/;
  const HEX64_RE = /^[0-9a-f]{64}$/;
  const PROOF_FIELDS = ["format", "version", "round_id", "account_id", "nonce", "assets",
    "balances", "commitment", "leaf", "leaf_index", "tree_height", "siblings", "root"];

  /** The asset registry of python/por/amounts.py (decimals of the base unit, unit name);
   *  tests/test_web_verifier.py checks it equals por.amounts.DEFAULT_ASSETS. */
  const ASSETS = {
    BTC: [8, "satoshi"], ETH: [9, "gwei"], USDT: [6, "micro-USDT"], USDC: [6, "micro-USDC"],
    XRP: [6, "drop"], SOL: [9, "lamport"], DOGE: [8, "koinu"], ADA: [6, "lovelace"],
    TRX: [6, "sun"], TON: [9, "nanoton"], LTC: [8, "litoshi"], LINK: [9, "nano-LINK"],
    DOT: [8, "1e-8 DOT (100 planck)"], AVAX: [9, "nAVAX"], BCH: [8, "satoshi"],
    ETC: [9, "gwei"], FIL: [9, "nanoFIL"], APT: [8, "octa"], SHIB: [4, "1e-4 SHIB"],
    UNI: [9, "nano-UNI"], OKB: [9, "nano-OKB"], PEPE: [4, "1e-4 PEPE"],
  };

  /** What each failure reason means, in plain words (the reasons of por.inclusion). */
  const REASON_TEXT = {
    format: "The file is not a valid inclusion proof.",
    round: "The proof is for another round.",
    assets: "The proof's asset list differs from the round's.",
    root: "The proof leads to a different root than the one the liabilities proof proves.",
    height: "The proof's path length differs from the proven tree's height.",
    commitment: "Your account id and nonce do not give the account commitment of this leaf.",
    balance: "Your balances do not give the leaf that is in the tree: a balance was changed.",
    path: "The Merkle path does not lead to the proven root: wrong leaf index or sibling.",
    bundle: "The round's public statement could not be loaded.",
  };

  class VerifyError extends Error {
    constructor(reason, message) {
      super(message);
      this.name = "VerifyError";
      this.reason = reason;
    }
  }

  // --- amounts ----------------------------------------------------------------------------

  /** value / 10^decimals as an exact decimal string (trailing zeros dropped); BigInt in. */
  function formatScaled(value, decimals) {
    const neg = value < 0n;
    const v = neg ? -value : value;
    const base = 10n ** BigInt(decimals);
    const q = v / base;
    const r = v % base;
    let s = q.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    if (decimals > 0 && r !== 0n) s += "." + r.toString().padStart(decimals, "0").replace(/0+$/, "");
    return (neg ? "-" : "") + s;
  }

  function formatAmount(symbol, value) {
    const a = ASSETS[symbol];
    return a ? formatScaled(value, a[0]) : value.toString() + " base units";
  }

  function parseAmount(v, where) {
    if (typeof v !== "string" || !AMOUNT_RE.test(v)) {
      throw new VerifyError("format", `${where} must be a decimal integer string without sign or leading zeros, got ${JSON.stringify(v)}`);
    }
    const b = BigInt(v);
    if (b >= H.AMOUNT_LIMIT) throw new VerifyError("format", `${where} = ${v} is not below 2^64`);
    return b;
  }

  // --- the customer's file ------------------------------------------------------------------

  function isPlainObject(x) {
    return x !== null && typeof x === "object" && !Array.isArray(x);
  }

  /** Parse and strictly validate a version-1 inclusion proof (reason "format" on any fault). */
  function parseProof(text) {
    if (typeof text !== "string") throw new VerifyError("format", "expected JSON text");
    const size = new TextEncoder().encode(text).length;
    if (size > MAX_PROOF_BYTES) {
      throw new VerifyError("format", `${size} bytes, larger than any valid proof (${MAX_PROOF_BYTES} bytes max)`);
    }
    // Like Python's strict reader: every number is an integer written as such (no 1.0, no 1e0).
    for (const tok of text.match(/"(?:[^"\\]|\\.)*"|-?[0-9][-+0-9.eE]*/g) || []) {
      if (tok[0] !== '"' && !/^-?(0|[1-9][0-9]*)$/.test(tok)) {
        throw new VerifyError("format", `the number ${tok} is not an integer written as such`);
      }
    }
    let o;
    try {
      o = JSON.parse(text);
    } catch (e) {
      throw new VerifyError("format", `not valid JSON: ${e.message}`);
    }
    const bad = (field, msg) => { throw new VerifyError("format", `field '${field}': ${msg}`); };
    if (!isPlainObject(o)) throw new VerifyError("format", "the top level must be a JSON object");
    if (o.format !== "por-inclusion-proof") bad("format", `must be "por-inclusion-proof", got ${JSON.stringify(o.format)}`);
    if (o.version !== 1) bad("version", `unsupported version ${JSON.stringify(o.version)} (this page reads version 1)`);
    for (const k of Object.keys(o)) if (!PROOF_FIELDS.includes(k)) bad(k, "unknown field");
    for (const k of PROOF_FIELDS) if (!(k in o)) bad(k, "missing");
    if (typeof o.round_id !== "string" || !ROUND_RE.test(o.round_id)) bad("round_id", "not a valid round id");
    try {
      H.accountIdBytes(o.account_id);
    } catch (e) {
      bad("account_id", e.message);
    }
    if (typeof o.nonce !== "string" || !HEX64_RE.test(o.nonce)) bad("nonce", "the nonce is exactly 64 lowercase hex digits (32 bytes)");
    if (!Array.isArray(o.assets) || o.assets.length < 1 || o.assets.length > MAX_ASSETS) bad("assets", `must be a list of 1 to ${MAX_ASSETS} symbols`);
    o.assets.forEach((s, i) => { if (typeof s !== "string" || !SYMBOL_RE.test(s)) bad(`assets.${i}`, `${JSON.stringify(s)} is not an asset symbol`); });
    if (new Set(o.assets).size !== o.assets.length) bad("assets", "a symbol appears twice");
    if (!isPlainObject(o.balances)) bad("balances", "must be an object");
    const balances = {};
    for (const [sym, b] of Object.entries(o.balances)) {
      if (!o.assets.includes(sym)) bad("balances", `${sym} is not in the proof's asset list`);
      if (!isPlainObject(b)) bad(`balances.${sym}`, "must be {\"equity\": ..., \"debt\": ...}");
      for (const k of Object.keys(b)) if (k !== "equity" && k !== "debt") bad(`balances.${sym}.${k}`, "unknown field");
      balances[sym] = [parseAmount(b.equity, `balances.${sym}.equity`), parseAmount(b.debt, `balances.${sym}.debt`)];
    }
    for (const k of ["commitment", "leaf", "root"]) {
      try {
        H.digestFromHex(o[k]);
      } catch (e) {
        bad(k, e.message);
      }
    }
    if (!Number.isInteger(o.tree_height) || o.tree_height < 1 || o.tree_height > MAX_TREE_HEIGHT) bad("tree_height", `must be an integer from 1 to ${MAX_TREE_HEIGHT}`);
    if (!Number.isSafeInteger(o.leaf_index) || o.leaf_index < 0) bad("leaf_index", "must be an integer >= 0");
    if (o.leaf_index >= 2 ** o.tree_height) bad("leaf_index", `${o.leaf_index} is outside [0, 2^${o.tree_height})`);
    let raw;
    try {
      raw = H.base64Decode(o.siblings);
    } catch (e) {
      bad("siblings", e.message);
    }
    if (raw.length !== 32 * o.tree_height) bad("siblings", `${raw.length} bytes, expected 32 per level x ${o.tree_height} levels = ${32 * o.tree_height}`);
    const siblings = [];
    for (let j = 0; j < o.tree_height; j++) {
      try {
        siblings.push(H.digestFromBytes(raw.subarray(32 * j, 32 * j + 32)));
      } catch (e) {
        bad("siblings", `level ${j}: ${e.message}`);
      }
    }
    const equity = o.assets.map((s) => (balances[s] ? balances[s][0] : 0n));
    const debt = o.assets.map((s) => (balances[s] ? balances[s][1] : 0n));
    return { raw: o, equity, debt, siblings, nonce: H.hexToBytes(o.nonce) };
  }

  // --- the round's public statement -------------------------------------------------------

  /** The contract keys of liabilities/public.json (docs/liabilities-bundle.md). */
  function parsePublic(doc) {
    const bad = (msg) => { throw new VerifyError("bundle", `public.json: ${msg}`); };
    if (!isPlainObject(doc)) bad("not a JSON object");
    if (doc.format !== "por-liabilities") bad(`field 'format' is ${JSON.stringify(doc.format)}, not "por-liabilities"`);
    if (typeof doc.round_id !== "string" || !ROUND_RE.test(doc.round_id)) bad("field 'round_id' is not a round id");
    if (!Array.isArray(doc.assets) || doc.assets.length < 1 || !doc.assets.every((s) => typeof s === "string" && SYMBOL_RE.test(s))) bad("field 'assets' is not a list of symbols");
    try {
      H.digestFromHex(doc.root);
    } catch (e) {
      bad(`field 'root': ${e.message}`);
    }
    if (!Number.isInteger(doc.tree_height) || doc.tree_height < 1 || doc.tree_height > MAX_TREE_HEIGHT) bad("field 'tree_height' is not a tree height");
    const k = doc.assets.length;
    const totals = (key) => {
      const v = doc[key];
      if (!Array.isArray(v) || v.length !== k) bad(`field '${key}' must have one entry per asset`);
      return v.map((x, i) => {
        if (typeof x !== "string" || !/^(0|[1-9][0-9]*)$/.test(x)) bad(`field '${key}' entry ${i} is not a decimal integer string`);
        return BigInt(x);
      });
    };
    return { round_id: doc.round_id, assets: doc.assets.slice(), root: doc.root,
      tree_height: doc.tree_height, equity_totals: totals("equity_totals"), debt_totals: totals("debt_totals") };
  }

  // --- the check ----------------------------------------------------------------------------

  /**
   * Verify a proof (JSON text) against a parsed public statement. Never throws: returns
   * {ok, reason, message, steps, ...}. steps: [{name, ok, detail}] in check order.
   */
  function verifyProof(text, pub) {
    const t0 = performance.now();
    const steps = [];
    const out = { ok: false, reason: null, message: "", steps };
    const step = (name, ok, detail) => steps.push({ name, ok, detail });
    const failWith = (reason, message) => {
      out.reason = reason;
      out.message = message;
      step(reason, false, message);
      out.ms = performance.now() - t0;
      return out;
    };
    if (!pub) return failWith("bundle", "the round's public statement is not loaded");
    let p;
    try {
      p = parseProof(text);
    } catch (e) {
      return failWith(e.reason || "format", e.message);
    }
    const o = p.raw;
    out.proof = { account_id: o.account_id, round_id: o.round_id, leaf_index: o.leaf_index,
      assets: o.assets, equity: p.equity, debt: p.debt };
    step("format", true, "the file is a well-formed version-1 inclusion proof");
    if (o.round_id !== pub.round_id) return failWith("round", `the proof is for round ${o.round_id}, not ${pub.round_id}`);
    step("round", true, `round ${pub.round_id}`);
    if (JSON.stringify(o.assets) !== JSON.stringify(pub.assets)) {
      return failWith("assets", `the proof's assets [${o.assets.join(", ")}] differ from the round's [${pub.assets.join(", ")}] (the order is the leaf order)`);
    }
    step("assets", true, `${pub.assets.length} assets, in the round's order`);
    if (o.root !== pub.root) return failWith("root", `the proof is for root ${o.root}, but the liabilities proof proves root ${pub.root}`);
    step("root", true, "the proof names the proven root");
    if (o.tree_height !== pub.tree_height) return failWith("height", `the proof's path has ${o.tree_height} levels, but the proven tree has height ${pub.tree_height}`);
    step("height", true, `${pub.tree_height} levels`);

    let commitment, leaf, walked;
    try {
      commitment = H.accountCommitment(o.account_id, p.nonce);
      leaf = H.leafHash(commitment, p.equity, p.debt);
      walked = H.walkPath(leaf, o.leaf_index, p.siblings);
    } catch (e) {
      return failWith("format", e.message);
    }
    out.commitment = H.digestToHex(commitment);
    out.leaf = H.digestToHex(leaf);
    out.walked = H.digestToHex(walked);
    if (out.walked === pub.root) {
      if (out.commitment !== o.commitment || out.leaf !== o.leaf) {
        return failWith("format", "the path verifies, but the file's 'commitment' or 'leaf' field does not match the recomputed value");
      }
      step("commitment", true, "your account id and nonce give your account commitment");
      step("balance", true, "your balances give your leaf");
      step("path", true, `the Merkle path from leaf ${o.leaf_index} ends at the proven root`);
      out.ok = true;
      out.ms = performance.now() - t0;
      return out;
    }
    // Failed: the file's own (untrusted) digests say which input is wrong.
    if (out.commitment !== o.commitment) {
      return failWith("commitment", "the account id and nonce do not give the account commitment of this leaf (wrong nonce or account id)");
    }
    step("commitment", true, "your account id and nonce give the file's commitment");
    if (out.leaf !== o.leaf) return failWith("balance", "the balances do not give the leaf that is in the tree (a balance was changed)");
    step("balance", true, "your balances give the file's leaf");
    return failWith("path", `the Merkle path from leaf index ${o.leaf_index} ends at ${out.walked}, not at the proven root ${pub.root} (wrong index or sibling)`);
  }

  // --- the page -----------------------------------------------------------------------------

  const state = { pub: null, report: null };
  const $ = (id) => document.getElementById(id);

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
  }

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function showPublic(pub) {
    state.pub = pub;
    $("round-status").textContent = "Loaded the round's public statement.";
    $("round-status").className = "ok-text";
    $("round-id").textContent = pub.round_id;
    $("round-root").textContent = pub.root;
    $("round-height").textContent = `${pub.tree_height} (room for ${(2 ** pub.tree_height).toLocaleString("en-US")} customers)`;
    $("round-assets").textContent = pub.assets.join(", ");
    $("round-info").hidden = false;
    const tb = $("totals").tBodies[0];
    clear(tb);
    pub.assets.forEach((sym, i) => {
      const tr = document.createElement("tr");
      tr.dataset.asset = sym;
      cell(tr, sym);
      const e = pub.equity_totals[i], d = pub.debt_totals[i];
      cell(tr, formatAmount(sym, e), "num");
      cell(tr, formatAmount(sym, d), "num");
      cell(tr, formatAmount(sym, e - d), "num");
      cell(tr, "-", "num reserves");
      cell(tr, "-", "num ratio");
      tb.appendChild(tr);
    });
    $("totals-box").hidden = false;
  }

  /** The report's line for an asset, when a report of this round is loaded. */
  function reportLine(sym) {
    const r = state.report;
    if (!r || !state.pub || r.round_id !== state.pub.round_id || !Array.isArray(r.assets)) return null;
    return r.assets.find((a) => a && a.asset === sym) || null;
  }

  function ratioText(line) {
    if (!line) return "-";
    if (line.ratio_percent == null) return "n/a";
    return `${line.ratio_percent} %` + (line.below_100 ? " (below 100 %)" : "");
  }

  function showReport(report) {
    const note = $("ratios-note");
    state.report = report && typeof report === "object" ? report : null;
    if (!state.report) {
      $("round-report").textContent = "none published for this round";
      note.textContent = "No reserves report (report.json) is published for this round, so no reserve ratios can be shown.";
      note.className = "warn-text";
    } else if (state.pub && state.report.round_id !== state.pub.round_id) {
      $("round-report").textContent = `report.json is for round ${state.report.round_id}, not ${state.pub.round_id}`;
      note.textContent = `The published report is for round ${state.report.round_id}, not for this round (${state.pub.round_id}); its ratios are not shown.`;
      note.className = "bad-text";
    } else {
      $("round-report").textContent = "report.json";
      note.textContent = "Equity, debt and net liabilities are the totals the liabilities proof proves. Reserves and ratios (reserves / net liabilities, rounded down) come from the round's report.";
      note.className = "muted";
    }
    for (const tr of $("totals").tBodies[0].rows) {
      const line = reportLine(tr.dataset.asset);
      const fmt = (v) => (line && typeof v === "string" && /^-?[0-9]+$/.test(v) ? formatAmount(tr.dataset.asset, BigInt(v)) : "-");
      tr.cells[4].textContent = fmt(line && line.reserves);
      tr.cells[5].textContent = ratioText(line);
      tr.classList.toggle("below", !!(line && line.below_100));
    }
  }

  function showResult(res) {
    $("result").hidden = false;
    const v = $("verdict");
    v.dataset.status = res.ok ? "pass" : "fail";
    v.dataset.reason = res.reason || "";
    clear(v);
    const big = document.createElement("div");
    big.className = "big";
    const small = document.createElement("div");
    small.className = "why";
    if (res.ok) {
      big.textContent = `PASS - your balances are included in round ${res.proof.round_id}`;
      small.textContent = `Account ${res.proof.account_id} is leaf ${res.proof.leaf_index} of the tree whose root the liabilities proof proves, with exactly the balances below.`;
    } else {
      big.textContent = `FAIL - ${REASON_TEXT[res.reason] || "the proof does not verify."}`;
      small.textContent = `What failed: ${res.reason} \u2014 ${res.message}`;
    }
    v.appendChild(big);
    v.appendChild(small);
    v.className = res.ok ? "pass" : "fail";

    const ol = $("steps");
    clear(ol);
    for (const s of res.steps) {
      const li = document.createElement("li");
      li.className = s.ok ? "ok" : "bad";
      li.dataset.step = s.name;
      const b = document.createElement("strong");
      b.textContent = (s.ok ? "\u2713 " : "\u2717 ") + s.name;
      li.appendChild(b);
      li.appendChild(document.createTextNode(": " + s.detail));
      ol.appendChild(li);
    }

    const box = $("balances-box");
    const tb = $("balances").tBodies[0];
    clear(tb);
    if (res.ok) {
      const zero = [];
      res.proof.assets.forEach((sym, i) => {
        const e = res.proof.equity[i], d = res.proof.debt[i];
        if (e === 0n && d === 0n) {
          zero.push(sym);
          return;
        }
        const tr = document.createElement("tr");
        tr.dataset.asset = sym;
        cell(tr, sym);
        cell(tr, formatAmount(sym, e), "num");
        cell(tr, formatAmount(sym, d), "num");
        const line = reportLine(sym);
        cell(tr, ratioText(line), "num ratio");
        if (line && line.below_100) tr.classList.add("below");
        tb.appendChild(tr);
      });
      $("zero-assets").textContent = zero.length ? `Zero in the other ${zero.length} assets (${zero.join(", ")}).` : "";
      box.hidden = false;
    } else {
      box.hidden = true;
    }
    const mine = res.ok ? res.proof.assets.filter((sym, i) => res.proof.equity[i] !== 0n || res.proof.debt[i] !== 0n) : [];
    for (const tr of $("totals").tBodies[0].rows) tr.classList.toggle("mine", mine.includes(tr.dataset.asset));
    $("d-account").textContent = res.proof ? res.proof.account_id : "-";
    $("d-index").textContent = res.proof ? String(res.proof.leaf_index) : "-";
    $("d-commitment").textContent = res.commitment || "-";
    $("d-leaf").textContent = res.leaf || "-";
    $("d-walked").textContent = res.walked || "-";
    $("d-time").textContent = res.ms != null ? `${res.ms.toFixed(1)} ms in this browser` : "-";
    if (v.scrollIntoView) v.scrollIntoView({ block: "nearest" });
  }

  function runVerify() {
    const res = verifyProof($("proof-text").value, state.pub);
    showResult(res);
    return res;
  }

  async function getJson(url) {
    const r = await fetch(url, { cache: "no-store", credentials: "same-origin" });
    if (r.status === 404) return null;
    if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
    return r.json();
  }

  function publicFailed(msg) {
    $("round-status").textContent = `Cannot load the round's public statement: ${msg}`;
    $("round-status").className = "bad-text";
    $("public-upload").hidden = false;
  }

  async function loadBundle() {
    let doc;
    try {
      doc = await getJson(PUBLIC_URL);
      if (doc === null) throw new Error(`${PUBLIC_URL} was not found`);
      showPublic(parsePublic(doc));
    } catch (e) {
      publicFailed(e.message);
      return;
    }
    try {
      showReport(await getJson(REPORT_URL));
    } catch (e) {
      showReport(null);
      $("ratios-note").textContent = `The round's report could not be read: ${e.message}`;
    }
  }

  async function fetchProofWithToken() {
    const token = $("token").value.trim();
    if (!token) return;
    const btn = $("fetch-proof");
    btn.disabled = true;
    try {
      const r = await fetch(PROOF_API_URL, {
        cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer",
        headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
      });
      if (!r.ok) {
        const what = r.status === 401 || r.status === 403 ? "the token was not accepted" : r.status === 404 ? "no proof for this token" : `HTTP ${r.status}`;
        showResult({ ok: false, reason: "format", message: `could not get your proof: ${what}`, steps: [{ name: "fetch", ok: false, detail: what }] });
        return;
      }
      $("proof-text").value = await r.text();
      runVerify();
    } catch (e) {
      showResult({ ok: false, reason: "format", message: `could not get your proof: ${e.message}`, steps: [{ name: "fetch", ok: false, detail: e.message }] });
    } finally {
      btn.disabled = false;
    }
  }

  function wire() {
    $("verify").addEventListener("click", runVerify);
    $("proof-file").addEventListener("change", async (ev) => {
      const f = ev.target.files[0];
      if (!f) return;
      $("proof-text").value = f.size > MAX_PROOF_BYTES ? "" : await f.text();
      if (f.size > MAX_PROOF_BYTES) {
        showResult({ ok: false, reason: "format", message: `${f.name}: ${f.size} bytes, larger than any valid proof`, steps: [] });
        return;
      }
      runVerify();
    });
    $("fetch-proof").addEventListener("click", fetchProofWithToken);
    $("token").addEventListener("keydown", (ev) => { if (ev.key === "Enter") fetchProofWithToken(); });
    $("public-file").addEventListener("change", async (ev) => {
      const f = ev.target.files[0];
      if (!f) return;
      try {
        showPublic(parsePublic(JSON.parse(await f.text())));
        $("public-upload").hidden = true;
        showReport(null);
      } catch (e) {
        publicFailed(e.message);
      }
    });
    global.PorVerifier.ready = loadBundle();
  }

  global.PorVerifier = {
    ASSETS, REASON_TEXT, VerifyError, formatScaled, parseProof, parsePublic, verifyProof,
    ready: null,
  };
  if (typeof document !== "undefined") {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
    else wire();
  }
})(typeof window !== "undefined" ? window : globalThis);
