#!/usr/bin/env python3
"""The web verifier's JavaScript in headless Chromium: Poseidon2 throughput and the time a
customer's browser takes to check a proof (prints JSON).

Builds valid proofs like bench/inclusion_proof.py (random siblings, the root is the walked
path) and times PorVerifier.verifyProof in Debian's chromium, driven by Playwright, on the
same page the customer opens (python/por/web/index.html, served on loopback). Python's
verify_inclusion on the same text is timed alongside for comparison.
"""

import json
import platform
import random
import shutil
import sys
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))

from playwright.sync_api import sync_playwright  # noqa: E402

from por import inclusion, merkle  # noqa: E402
from por.amounts import DEFAULT_ASSETS  # noqa: E402
from por.poseidon2 import P  # noqa: E402

ASSETS = [a.symbol for a in DEFAULT_ASSETS]


def make_proof(rng, h, nonzero):
    nonce = rng.randbytes(32)
    eq = [0] * len(ASSETS)
    for i in rng.sample(range(len(ASSETS)), nonzero):
        eq[i] = rng.randrange(1, 2**50)
    debt = [0] * len(ASSETS)
    c = merkle.account_commitment("user-0001234567", nonce)
    leaf = merkle.leaf_hash(c, eq, debt)
    sib = [[rng.randrange(P) for _ in range(8)] for _ in range(h)]
    idx = rng.randrange(1 << h)
    root = merkle.walk_path(leaf, idx, sib)
    proof = inclusion.make_inclusion_proof(
        round_id="2026-11", account_id="user-0001234567", nonce=nonce, assets=ASSETS,
        equity=eq, debt=debt, leaf_index=idx, siblings=sib, root=root)
    pub = {"round_id": "2026-11", "assets": ASSETS, "root": merkle.digest_to_hex(root),
           "tree_height": h}
    return proof.to_json(), pub


def main():
    rng = random.Random(1)
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *a):
            pass

    handler = partial(Quiet, directory=str(ROOT / "python" / "por"))
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    exe = shutil.which("chromium")
    out = {"bench": "web_verifier", "machine": platform.machine(), "python": platform.python_version(),
           "cases": []}
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        out["chromium"] = b.version
        page = b.new_page()
        page.goto(f"http://127.0.0.1:{srv.server_address[1]}/web/index.html")
        page.wait_for_function("window.PorVerifier && window.PorHash")
        t_load = page.evaluate("""() => { const t = performance.now();
            for (let i = 0; i < 20; i++) PorHash.grainFieldElements(215); return (performance.now() - t) / 20; }""")
        out["grain_constants_ms"] = round(t_load, 2)
        perm = page.evaluate("""() => { let s = new Array(24).fill(7); const n = 5000;
            const t = performance.now(); for (let i = 0; i < n; i++) s = PorHash.permute(s);
            return (performance.now() - t) / n * 1000; }""")
        out["permutation_us"] = round(perm, 2)
        for h, nz in ((20, 5), (24, 5), (24, 22), (30, 5)):
            text, pub = make_proof(rng, h, nz)
            ms = page.evaluate("""([text, pub]) => {
                const p = {...pub, equity_totals: pub.assets.map(() => 0n), debt_totals: pub.assets.map(() => 0n)};
                let r; const n = 50; const t = performance.now();
                for (let i = 0; i < n; i++) r = PorVerifier.verifyProof(text, p);
                if (!r.ok) throw new Error(r.message);
                return (performance.now() - t) / n; }""", [text, pub])
            t = time.perf_counter()
            for _ in range(10):
                inclusion.verify_inclusion(text, pub["root"], ASSETS, "2026-11",
                                           expected_tree_height=h)
            py_ms = (time.perf_counter() - t) / 10 * 1000
            out["cases"].append({"tree_height": h, "nonzero_assets": nz, "json_bytes": len(text),
                                 "browser_verify_ms": round(ms, 3), "python_verify_ms": round(py_ms, 2)})
        b.close()
    srv.shutdown()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
