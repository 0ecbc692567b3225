#!/usr/bin/env bash
# `npm run setup`: everything saerch-ts needs on a Debian bookworm machine with Node >= 20.
#   1. system packages (Jupyter for the notebooks, chromium for figure rendering, numpy for interop tests)
#      — installed with apt when running as root, otherwise the exact command is printed and setup stops;
#   2. npm ci (ONNXRUNTIME_NODE_INSTALL_CUDA=skip: the CUDA files cannot be downloaded offline);
#   3. the TypeScript build (src -> dist, which the notebooks import);
#   4. the tslab Jupyter kernel, registered into the project-local .jupyter/ folder.
# Idempotent: each step is skipped when already done. Set SAERCH_SKIP_APT=1 to skip step 1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }
die() { printf '\033[1;31msetup failed:\033[0m %s\n' "$*" >&2; exit 1; }

# --- 0. Node ---------------------------------------------------------------------------------------
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
[ "$node_major" -ge 20 ] || die "Node >= 20 is required (found: $(node --version 2>/dev/null || echo none)). Install Node 20 LTS first."

# --- 1. system packages ----------------------------------------------------------------------------
APT_PACKAGES=(jupyter-notebook jupyter-nbconvert python3-nbclient jupyter-client python3-ipykernel python3-numpy chromium)
missing=()
if [ "${SAERCH_SKIP_APT:-0}" != "1" ]; then
  command -v dpkg-query >/dev/null || die "this setup expects Debian/Ubuntu (dpkg-query not found); install the equivalents of: ${APT_PACKAGES[*]}, then rerun with SAERCH_SKIP_APT=1"
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  cmd="apt-get install -y --no-install-recommends ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then
    say "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install failed; try by hand: $cmd"
  else
    die "missing system packages: ${missing[*]}
  run:  sudo apt-get update && sudo $cmd
  then: npm run setup"
  fi
else
  say "system packages present"
fi

# --- 2. npm dependencies ---------------------------------------------------------------------------
stamp=node_modules/.saerch-setup-lock
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  say "npm dependencies up to date"
else
  say "npm ci"
  ONNXRUNTIME_NODE_INSTALL_CUDA="${ONNXRUNTIME_NODE_INSTALL_CUDA:-skip}" npm ci --no-fund --no-audit --loglevel=error \
    || die "npm ci failed (see above)"
  echo "$want" > "$stamp"
fi

# --- 3. build --------------------------------------------------------------------------------------
say "building dist/"
node_modules/.bin/tsc -p tsconfig.build.json || die "the TypeScript build failed (see above)"

# --- 4. tslab kernel -------------------------------------------------------------------------------
spec=".jupyter/share/jupyter/kernels/tslab/kernel.json"
if [ -f "$spec" ] && grep -qF "\"$ROOT/node_modules/.bin/tslab\"" "$spec"; then
  say "tslab kernel registered"
else
  say "registering the tslab kernel in .jupyter/"
  node_modules/.bin/tslab install --python=/usr/bin/python3 --binary="$ROOT/node_modules/.bin/tslab" \
    --prefix="$ROOT/.jupyter" >/dev/null || die "tslab install failed"
fi

say "ready — next: npm run pipeline (the main job) or npm test"
