#!/usr/bin/env bash
# The reliability and fuzz suites at full counts: 100 SIGKILL rounds, 20 overload waves, 10x fuzz runs.
# Usage: npm run test:soak   (override counts with SIGIL_CRASH_ROUNDS, SIGIL_OVERLOAD_WAVES, SIGIL_FUZZ_FACTOR)
# Writes the output to $TMPDIR/sigil-soak-<date>.log as well as to the terminal.
set -euo pipefail
cd "$(dirname "$0")/.."
export SIGIL_SOAK=1
export SIGIL_TEST_CONCURRENCY="${SIGIL_TEST_CONCURRENCY:-1}"
log="${TMPDIR:-/tmp}/sigil-soak-$(date -u +%Y%m%dT%H%M%SZ).log"
started=$(date +%s)
set +e
node scripts/run-tests.mjs test/reliability test/fuzz 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
echo "soak: exit ${status} after $(( $(date +%s) - started )) s; log: $log; figures:" | tee -a "$log"
grep -E "^\s*(ℹ|#) (rounds|accepted|acknowledged|issuer|org/|key files)" "$log" | tee "$log.figures" || true
exit "$status"
