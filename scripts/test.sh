#!/usr/bin/env bash
# `npm test`: ESLint, Prettier and the type checks side by side, then every test project; prints how long each step and
# the whole took.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
timings=()
names=()

# The three checks at once, each output kept apart and printed whole; any failing stops the run before the tests.
checks=$(mktemp -d)
trap 'rm -rf "$checks"' EXIT
check() { # check NAME COMMAND...: runs in the background, records its exit code and duration
  local name=$1 t=$SECONDS; shift
  names+=("$name")
  # `|| rc=$?`: the subshell inherits errexit, which would end it at a failing check before the code is recorded.
  (
    rc=0
    "$@" >"$checks/$name.log" 2>&1 || rc=$?
    echo "$rc $((SECONDS - t))" >"$checks/$name.rc"
  ) &
}
check eslint npm run lint:code --silent
check prettier npm run lint:format --silent
check typecheck npm run typecheck --silent
wait
failed=0
for name in "${names[@]}"; do
  read -r rc seconds <"$checks/$name.rc"
  cat "$checks/$name.log"
  timings+=("$name $seconds s")
  if [ "$rc" != 0 ]; then
    echo "npm test: $name failed (exit code $rc)" >&2
    failed=1
  fi
done
[ "$failed" = 0 ] || exit 1

t=$SECONDS
npx vitest run "$@"
timings+=("vitest $((SECONDS - t)) s")
echo "npm test: $((SECONDS - start)) s ($(IFS=,; echo "${timings[*]}" | sed 's/,/, /g'))"
