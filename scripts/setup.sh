#!/usr/bin/env bash
# `npm run setup`: everything saerch-ts needs on a Debian bookworm machine with Node >= 20.
#   1. system packages (Jupyter for the notebooks, chromium for figure rendering, numpy for interop tests)
#      — installed with apt when running as root, otherwise the exact command is printed and setup stops;
#   2. npm ci (ONNXRUNTIME_NODE_INSTALL_CUDA=skip: the CUDA files cannot be downloaded offline);
#   3. the TypeScript build (src -> dist, which the notebooks import);
#   4. the tslab Jupyter kernel, registered into the project-local .jupyter/ folder.
#   1b. the Vulkan loader (libvulkan1) for the webgpu engine, and — on Debian bookworm without a Vulkan driver —
#      Mesa's software Vulkan driver from bookworm-backports (bookworm's own Mesa 22.3 is too old for Dawn), so
#      the engine's tests run on a CPU-only machine; SAERCH_SKIP_VULKAN=1 skips it (a GPU's driver is the vendor's);
# Idempotent: each step is skipped when already done. Set SAERCH_SKIP_APT=1 to skip steps 1 and 1b.
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

# --- 1b. Vulkan for the webgpu engine -----------------------------------------------------------------
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
has_vulkan_driver() {
  local f
  for f in /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json; do [ -e "$f" ] && return 0; done
  return 1
}
mesa_too_old() { installed mesa-vulkan-drivers && dpkg --compare-versions "$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)" lt 24; }
if [ "${SAERCH_SKIP_APT:-0}" != "1" ] && [ "${SAERCH_SKIP_VULKAN:-0}" != "1" ]; then
  vk_missing=()
  installed libvulkan1 || vk_missing+=(libvulkan1)
  need_mesa=0
  if { ! has_vulkan_driver || mesa_too_old; } && grep -qs 'VERSION_CODENAME=bookworm' /etc/os-release; then need_mesa=1; fi
  if [ ${#vk_missing[@]} -eq 0 ] && [ "$need_mesa" = 0 ]; then
    say "Vulkan loader and driver present"
  elif [ "$(id -u)" -ne 0 ]; then
    die "the webgpu engine needs Vulkan:
  run:  sudo apt-get install -y libvulkan1$([ "$need_mesa" = 1 ] && printf '%s' "
        echo 'deb http://deb.debian.org/debian bookworm-backports main' | sudo tee /etc/apt/sources.list.d/backports.list
        sudo apt-get update && sudo apt-get install -y -t bookworm-backports mesa-vulkan-drivers")
  then: npm run setup   (or SAERCH_SKIP_VULKAN=1 npm run setup to go without the webgpu engine)"
  else
    export DEBIAN_FRONTEND=noninteractive
    if [ "$need_mesa" = 1 ]; then
      grep -qrs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ \
        || echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/backports.list
    fi
    apt-get update -qq || die "apt-get update failed"
    if [ ${#vk_missing[@]} -gt 0 ]; then
      say "installing ${vk_missing[*]}"
      apt-get install -y -qq --no-install-recommends "${vk_missing[@]}" >/dev/null || die "apt-get install ${vk_missing[*]} failed"
    fi
    if [ "$need_mesa" = 1 ]; then
      say "installing Mesa's software Vulkan driver from bookworm-backports"
      apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers >/dev/null \
        || die "apt-get install -t bookworm-backports mesa-vulkan-drivers failed"
    fi
  fi
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
