#!/usr/bin/env bash
# Installs everything Runbox needs on a Debian machine, idempotently and quickly when already done:
# bubblewrap, the Node dependencies, the compiled TypeScript, and the Python runtime environment
# (a venv with the pinned packages of runtimes/python/requirements.txt and a prebuilt matplotlib font cache),
# uv, the Python package installer, in a separate tools venv, and the `runbox` command linked globally (for npx).
# Called by `npm start`, `npm test` and `npm run bench` (their pre-scripts), and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
root_dir=$(pwd)
say() { printf '[runbox setup] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else say "need root to run: $*"; return 1; fi
}

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# 1. System packages: bubblewrap for the sandbox; util-linux's prlimit for its rlimits, setpriv and unshare to tie
# it to the daemon's life; tini, the init the daemon runs itself under when it is pid 1; python3 with venv.
need=()
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
if ! command -v prlimit >/dev/null 2>&1 || ! command -v setpriv >/dev/null 2>&1 || ! command -v unshare >/dev/null 2>&1; then need+=(util-linux); fi
command -v tini >/dev/null 2>&1 || need+=(tini)
command -v /usr/bin/python3 >/dev/null 2>&1 || need+=(python3)
/usr/bin/python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  say "installing Debian packages: ${need[*]}"
  apt_install "${need[@]}"
fi

# 2. Node dependencies, reinstalled only when package-lock.json changed.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing Node dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# 3. The Python runtime environment. Its location must be readable by the sandbox user, so not under /root.
if [ "$(id -u)" = 0 ]; then default_env=/opt/runbox/python; else default_env="$HOME/.local/share/runbox/python"; fi
py_env="${RUNBOX_PYTHON_ENV:-$default_env}"
stamp="$py_env/.runbox-requirements"
if ! cmp -s runtimes/python/requirements.txt "$stamp" 2>/dev/null || [ ! -x "$py_env/bin/python3" ]; then
  say "creating the Python environment in $py_env (numpy, pandas, matplotlib; takes a minute once)"
  rm -rf "$py_env"
  mkdir -p "$(dirname "$py_env")"
  /usr/bin/python3 -m venv "$py_env"
  "$py_env/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: -r runtimes/python/requirements.txt
  # setuptools' import hook costs every interpreter start a few milliseconds and sandboxed code never needs it.
  rm -f "$py_env"/lib/python3*/site-packages/distutils-precedence.pth
  # Prebuild matplotlib's font cache so a sandbox (fresh /tmp every time) does not rebuild it on each import.
  mkdir -p "$py_env/mpl-cache"
  MPLCONFIGDIR="$py_env/mpl-cache" MPLBACKEND=Agg "$py_env/bin/python3" -c 'import matplotlib.font_manager'
  chmod -R a+rX "$py_env"
  cp runtimes/python/requirements.txt "$stamp"
fi

# 4. The installer tools (uv) for install_package(), in their own venv: never inside the runtime environment,
# whose packages sandboxed code imports. The daemon finds uv at <tools>/bin/uv (daemon/packages/installer.ts).
if [ "$(id -u)" = 0 ]; then tools_env=/opt/runbox/tools; else tools_env="$HOME/.local/share/runbox/tools"; fi
uv_version=0.13.9
tools_stamp="$tools_env/.runbox-uv-version"
if [ "$(cat "$tools_stamp" 2>/dev/null)" != "$uv_version" ] || [ ! -x "$tools_env/bin/uv" ]; then
  say "installing uv $uv_version in $tools_env"
  rm -rf "$tools_env"
  mkdir -p "$(dirname "$tools_env")"
  /usr/bin/python3 -m venv "$tools_env"
  "$tools_env/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: "uv==$uv_version"
  chmod -R a+rX "$tools_env"
  echo "$uv_version" > "$tools_stamp"
fi

# 5. Compile the TypeScript (incremental: about a second when nothing changed).
if [ ! -f dist/daemon/main.js ] || [ -n "$(find daemon sdk test bench examples tsconfig.json -newer dist/.tsbuildinfo -print -quit 2>/dev/null)" ]; then
  say "compiling TypeScript"
  node_modules/.bin/tsc -p tsconfig.json
fi

# 6. The `runbox` command linked into npm's global prefix, so that the README's MCP client configuration
# (`npx runbox mcp`) runs this checkout from any directory. Not fatal: only MCP clients need it.
bash scripts/link-global.sh || say "going on without the global runbox command"
