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
rm -rf "$OUT/bundle"
"${POR[@]}" prove liabilities --snapshot "$OUT/round" --out "$OUT/bundle"

step "4. Anyone: verify the liabilities proof and read the proven per-asset totals"
"${POR[@]}" verify liabilities "$OUT/bundle"

step "5. A customer: check that their own balances are inside the proven root"
PROOFS=("$OUT"/bundle/inclusion/*.json)
"${POR[@]}" verify user --proof "${PROOFS[0]}" --bundle "$OUT/bundle"

step "6. Prove the assets: sign with every wallet, read balances at the snapshot height on real chains"
.venv/bin/python -m por.demo "$OUT/round" "$OUT/bundle"

printf '\n\033[1mDone.\033[0m The bundle is in %s (publish public.json, proof.bin, assets.json;\n' "$OUT/bundle"
printf 'inclusion/ holds one proof per customer and round-secret.key is private).\n'
