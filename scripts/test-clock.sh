#!/usr/bin/env bash
# The date-sensitive test projects with the clock faked: every process they start (the test runner, the servers it
# spawns, Chromium) believes it is INSTANT, and keeps counting from there. Debian's libfaketime does it (apt-get
# install faketime). The processes also run in a zone far from the clinics' (TZ, default Pacific/Auckland, UTC+12/13),
# so nothing may count days in the server's own zone either.
#
#   npm run test:clock -- "2026-11-02 02:30:00"     # an instant in UTC: here, the evening of a fall-back day in New York
#
# PostgreSQL and Redis run outside and keep the real clock, so the projects that use them are left out: the embedded
# server suite runs the same tests on PGlite, in process. The browser projects (e2e, explorer) are left out too:
# Chromium cannot run under libfaketime, and Playwright's clock, given the faked time, left its pages on the real one
# (it counts the time from this process's shifted clock) and, corrected for that, stalled their live updates. The
# client's date logic runs faked in the `client` project (jsdom, against real servers). See README, "Tests at any hour".
set -euo pipefail
cd "$(dirname "$0")/.."

instant=${1:?usage: npm run test:clock -- "YYYY-MM-DD HH:MM:SS" (UTC) [vitest arguments]}
shift
zone=${TEST_CLOCK_TZ:-Pacific/Auckland}
command -v faketime >/dev/null || { echo "test:clock needs libfaketime: apt-get install faketime" >&2; exit 2; }

# An offset from the real clock, not a start time ("@..."): with a start time each process starts its own clock at the
# instant when it starts, so a child started seconds later lives seconds in its parent's past, and rows the test
# runner's set-up wrote (the seeded templates) would carry times in the future of the workers that read them.
offset=$(( $(date -u -d "$instant UTC" +%s) - $(date -u +%s) ))
echo "test:clock: $instant UTC ($(TZ=$zone date -d "$instant UTC" '+%Y-%m-%d %H:%M:%S') $zone), ${offset} s from now"
# Timers and the monotonic clock stay real: only what time it is changes.
export TZ=$zone FAKETIME_DONT_FAKE_MONOTONIC=1
projects=(--project embedded --project client)
# Signed: libfaketime reads an offset without its sign as a timestamp and refuses it, so an instant in the future
# needs its "+".
exec faketime -f "$(printf '%+d' "$offset")s" npx vitest run "${projects[@]}" "$@"
