#!/usr/bin/env bash
# Links this checkout's `runbox` command into npm's global prefix (npm link, offline), so that `npx runbox mcp`,
# the README's MCP client configuration, runs this checkout from any directory: npx finds globally installed
# packages, and an MCP client starts it from a directory of its own. Nothing to do (and nothing said) when the
# global runbox is this checkout already; one of another checkout, or an installed copy, is replaced, saying so.
# RUNBOX_NO_GLOBAL_LINK=1 skips it. The prefix is npm's global one (npm_config_prefix when set).
# Called by scripts/setup.sh, and by test/mcp/server.test.ts on a temporary prefix.
set -euo pipefail
cd "$(dirname "$0")/.."
root_dir=$(pwd -P)
say() { printf '[runbox setup] %s\n' "$*" >&2; }

if [ -n "${RUNBOX_NO_GLOBAL_LINK:-}" ] && [ "$RUNBOX_NO_GLOBAL_LINK" != 0 ]; then exit 0; fi
# Under npm run (npm start, npm test) npm says where its global prefix is; asking it costs a start of npm.
prefix="${npm_config_global_prefix:-$(npm prefix -g)}"
package="$prefix/lib/node_modules/runbox"
command="$prefix/bin/runbox"
if [ "$(readlink -f "$package" 2>/dev/null)" = "$root_dir" ] && [ "$(readlink -f "$command" 2>/dev/null)" = "$root_dir/bin/runbox.js" ]; then exit 0; fi

if [ -e "$package" ] || [ -L "$package" ]; then
  say "relinking the global runbox command from $(readlink -f "$package" 2>/dev/null || echo "$package") to this checkout ($root_dir)"
else
  say "linking the runbox command into $prefix, so that npx runbox mcp runs this checkout from any directory (RUNBOX_NO_GLOBAL_LINK=1 skips this)"
fi
if ! output=$(npm_config_prefix="$prefix" npm link --offline --no-audit --no-fund --loglevel=error 2>&1); then
  say "could not link the runbox command into $prefix:"
  printf '%s\n' "$output" | grep -v 'complete log of this run' | head -n 4 >&2
  say "npx runbox mcp works only inside this checkout until it is linked (set a prefix you may write: npm config set prefix ~/.local; or RUNBOX_NO_GLOBAL_LINK=1)"
  exit 1
fi
