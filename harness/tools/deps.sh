#!/usr/bin/env bash
# Install the Debian packages the project needs, if any is missing.
# Usage: harness/tools/deps.sh [--browser]
# (chromium, for tests/test_matrix_browser.py, is in the default list; --browser
# is still accepted and changes nothing.)
set -euo pipefail
pkgs=(cmake make gcc pkg-config libuv1-dev libcriterion-dev libevent-dev
      python3 python3-pytest python3-pytest-xdist python3-hypothesis python3-jsonschema
      python3-venv python3-pip python3-setuptools python3-wheel git
      iproute2 nodejs npm valgrind clang libclang-rt-14-dev util-linux chromium
      flake8 clang-format)
missing=()
for p in "${pkgs[@]}"; do
  # nodejs and npm may come from elsewhere than Debian: working commands are
  # enough (npm fetches the Node lines: harness/tools/node_lines.py).
  if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
  exit 2
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
