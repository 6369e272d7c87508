#!/usr/bin/env bash
# `npm test`: lint and formatting, types, then every test project; prints how long each step and the whole took.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
step() { # step NAME COMMAND...
  local name=$1 t=$SECONDS; shift
  "$@"
  timings+=("$name $((SECONDS - t)) s")
}
timings=()
step lint npm run lint --silent
step typecheck npm run typecheck --silent
step vitest npx vitest run "$@"
echo "npm test: $((SECONDS - start)) s ($(IFS=,; echo "${timings[*]}" | sed 's/,/, /g'))"
