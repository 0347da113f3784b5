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
