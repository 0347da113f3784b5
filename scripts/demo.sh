#!/usr/bin/env bash
# The whole monthly Proof-of-Reserves round on a synthetic exchange (called by `make demo`).
# Each step prints a short heading; later parts of por extend this script.
set -euo pipefail
cd "$(dirname "$0")/.."
POR=(".venv/bin/python" "-m" "por")
OUT=demo-out
USERS="${DEMO_USERS:-10000}"
BUNDLE="$OUT/bundle"     # public: what the exchange publishes (docs/bundle.md)
PRIVATE="$OUT/bundle.private"   # the operator's: round secret, proof store (never published)

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Generate a synthetic exchange: ${USERS} customers, 22 assets, real wallet keys"
"${POR[@]}" generate --users "$USERS" --seed 1 --out "$OUT/round"

step "2. Validate the round's snapshot (balances, prices, haircuts, solvency of every customer)"
"${POR[@]}" snapshot check "$OUT/round"

step "3. Prove the liabilities in zero knowledge (Plonky3): ranges, exact totals, solvency, Merkle root, distinct commitments"
rm -rf "$BUNDLE" "$PRIVATE" "$OUT/inclusion"
"${POR[@]}" prove liabilities --snapshot "$OUT/round" --out "$BUNDLE/liabilities" --private "$PRIVATE"

step "4. Anyone: verify the liabilities proof and read the proven per-asset totals"
"${POR[@]}" verify liabilities "$BUNDLE/liabilities"

step "5. A customer: check that their own balances are inside the proven root"
"${POR[@]}" proofs export --private "$PRIVATE" --out "$OUT/inclusion"
PROOFS=("$OUT"/inclusion/*.json)
"${POR[@]}" verify user --proof "${PROOFS[0]}" --bundle "$BUNDLE"

step "6. Prove the assets: sign with every wallet, read balances at the snapshot height on real chains"
.venv/bin/python -m por.demo "$OUT/round" "$BUNDLE/assets"

step "7. Report and sign: ratios per asset, report.json/html/pdf, manifest.json signed with the report key"
[ -e "$OUT/report.key" ] || "${POR[@]}" keygen --out "$OUT/report.key"
"${POR[@]}" report "$BUNDLE" --sign-key "$OUT/report.key" --snapshot "$OUT/round"

step "8. Anyone: verify the whole bundle (signature, hashes, both proofs, every report number)"
rc=0
"${POR[@]}" verify bundle "$BUNDLE" --key "$OUT/report.key.pub" || rc=$?
if [ "$rc" = 3 ]; then
  printf '\033[1;31mThe bundle verifies, and it shows assets whose reserves are below 100 %%\033[0m (exit code 3, listed above).\n'
elif [ "$rc" != 0 ]; then
  exit "$rc"
fi

if [ "${DEMO_HISTORY:-0}" = 1 ]; then
  step "9. History: 24 small monthly rounds (200 customers each), each proven, reported, signed; then verified and charted"
  rm -rf "$OUT/history" "$OUT/history-work"
  "${POR[@]}" generate-history --out "$OUT/history" --work "$OUT/history-work" --sign-key "$OUT/report.key" --rounds 24
  "${POR[@]}" history "$OUT/history" --key "$OUT/report.key.pub" || [ $? = 3 ]
fi

printf '\n\033[1mDone.\033[0m The public bundle is %s: the report is %s/report.html (and report.pdf),\n' "$BUNDLE" "$BUNDLE"
printf 'signed by %s/report.key (fingerprint in %s/manifest.json).\n' "$OUT" "$BUNDLE"
printf 'Private, never published: %s (round secret, proof store), %s (one inclusion proof per customer, each for that customer only) and %s/exchange/wallet_keys.json.\n' "$PRIVATE" "$OUT/inclusion" "$OUT/round"
[ "${DEMO_HISTORY:-0}" = 1 ] && printf 'History of 24 rounds: %s/history/history.html\n' "$OUT" || \
  printf 'For a 24-round history with charts: DEMO_HISTORY=1 make demo (about a minute more).\n'
