#!/usr/bin/env bash
# The whole monthly Proof-of-Reserves round on a synthetic exchange (called by `make demo`).
# Each step prints a short heading; later parts of por extend this script.
set -euo pipefail
cd "$(dirname "$0")/.."
POR=(".venv/bin/python" "-m" "por")
OUT=demo-out
USERS="${DEMO_USERS:-10000}"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Generate a synthetic exchange: ${USERS} customers, 22 assets, real wallet keys"
"${POR[@]}" generate --users "$USERS" --seed 1 --out "$OUT/round"

step "2. Validate the round's snapshot (balances, prices, haircuts, solvency of every customer)"
"${POR[@]}" snapshot check "$OUT/round"

step "3. Prove the liabilities in zero knowledge (Plonky3): ranges, exact totals, solvency, Merkle root, distinct commitments"
rm -rf "$OUT/bundle" "$OUT/bundle.private" "$OUT/inclusion"
"${POR[@]}" prove liabilities --snapshot "$OUT/round" --out "$OUT/bundle/liabilities"

step "4. Anyone: verify the liabilities proof and read the proven per-asset totals"
"${POR[@]}" verify liabilities "$OUT/bundle/liabilities"

step "5. A customer: check that their own balances are inside the proven root"
"${POR[@]}" proofs export --private "$OUT/bundle.private" --out "$OUT/inclusion"
PROOFS=("$OUT"/inclusion/*.json)
"${POR[@]}" verify user --proof "${PROOFS[0]}" --bundle "$OUT/bundle/liabilities"

step "6. Prove the assets: sign with every wallet, read balances at the snapshot height on real chains"
.venv/bin/python -m por.demo "$OUT/round" "$OUT/bundle"

printf '\n\033[1mDone.\033[0m The bundle is in %s (publish it); %s is private (round secret,\n' "$OUT/bundle" "$OUT/bundle.private"
printf 'proof store); %s holds one inclusion proof per customer, each for that customer only.\n' "$OUT/inclusion"
