#!/usr/bin/env bash
# Install the Debian packages that por's tests need, only if they are missing.
set -euo pipefail
need=()
# (filled in as features land: postgresql, chromium, ...)
# chromium: headless Chromium (Playwright) for report.pdf, screenshots and the web verifier tests
# postgresql: the proof store's tests start a real PostgreSQL server on loopback
# wrk: bench/serve.py, the proof service's load generator
PKGS=(chromium postgresql wrk)
for pkg in "${PKGS[@]}" "$@"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
