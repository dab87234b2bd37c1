#!/usr/bin/env bash
# Paired server throughput: the built code (this checkout's dist/, run as `node bin/sigil.js`) against
# the code just before the build landed (the parent of the commit that added scripts/build.mjs, whose
# bin/sigil.js compiled src/ through tsx on start), with bench:log and bench:admission run
# alternately on both, the order swapped every round so a drift of the machine falls on both sides.
# The same (current) benchmark harness drives both servers. Prints one JSON summary on stdout (each
# round's full JSON is kept in OUT); figures mean something only on a quiet machine.
#
# Usage: bench/paired-build.sh [ROUNDS]        (default 2)
# Env:   BASE_REF   the pre-build commit (default: parent of the commit adding scripts/build.mjs)
#        AGAINST=tsx  compare with this checkout's own sources through tsx instead of BASE_REF
#                   (the build's effect alone, without the changes made since)
#        ONLY=log|admission   run one benchmark
#        OUT        directory for the per-round JSON (default: a new one under /tmp, kept)
#        BENCH_*    passed on (BENCH_SECONDS, BENCH_WARMUP_SECONDS, BENCH_PRIME_SECONDS, …)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ROUNDS=${1:-2}
AGAINST=${AGAINST:-commit}
OUT=${OUT:-$(mktemp -d /tmp/sigil-paired-build-XXXXXX)}
mkdir -p "$OUT"
ADDED=$(git log --diff-filter=A --format=%H -- scripts/build.mjs | tail -1)
BASE_REF=${BASE_REF:-$ADDED^}
BASE_SHA=$(git rev-parse "$BASE_REF")
BASE_DIR=""
cleanup() {
  if [ -n "$BASE_DIR" ]; then git worktree remove --force "$BASE_DIR" >/dev/null 2>&1 || rm -rf "$BASE_DIR"; fi
}
trap cleanup EXIT

node scripts/build.mjs
if [ "$AGAINST" = tsx ]; then
  BASE_LABEL="tsx src/ of $(git rev-parse --short HEAD)"
else
  BASE_LABEL="$(git rev-parse --short "$BASE_SHA") (pre-build, tsx)"
  # The pre-build webhook predates CEL validations and refuses the IVP policy: both sides skip those phases.
  export BENCH_IVP=${BENCH_IVP:-0}
  BASE_DIR=$(mktemp -d /tmp/sigil-prebuild-XXXXXX)
  rmdir "$BASE_DIR"
  git worktree add --detach --quiet "$BASE_DIR" "$BASE_SHA"
  ln -s "$ROOT/node_modules" "$BASE_DIR/node_modules"
  if [ -d native/build ]; then mkdir -p "$BASE_DIR/native" && cp -r native/build "$BASE_DIR/native/"; fi
fi
echo "paired-build: built $(git rev-parse --short HEAD) vs $BASE_LABEL, $ROUNDS round(s), JSON in $OUT" >&2

run_log() { # $1 = built|base, $2 = round
  local f="$OUT/log-$1-$2.json"
  if [ "$1" = built ]; then
    BENCH_LOG_ENTRY=bin npx tsx bench/log.ts >"$f"
  elif [ "$AGAINST" = tsx ]; then
    npx tsx bench/log.ts >"$f"
  else
    # The pre-build checkout's own bin/sigil.js: it registered tsx and ran src/ (what users ran).
    BENCH_SERVER_ROOT="$BASE_DIR" BENCH_LOG_ENTRY=bin npx tsx bench/log.ts >"$f"
  fi
}
run_admission() {
  local f="$OUT/admission-$1-$2.json"
  if [ "$1" = built ]; then
    BENCH_SIGIL_BIN="$ROOT/bin/sigil.js" npx tsx bench/admission.ts >"$f"
  elif [ "$AGAINST" = tsx ]; then
    BENCH_SIGIL_MAIN="$ROOT/src/cli/main.ts" npx tsx bench/admission.ts >"$f"
  else
    # Its own bin/sigil.js, which registers tsx with its tsconfig (the ASN.1 decorators need it).
    BENCH_SIGIL_BIN="$BASE_DIR/bin/sigil.js" npx tsx bench/admission.ts >"$f"
  fi
}

for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then order="built base"; else order="base built"; fi
  for side in $order; do
    if [ "${ONLY:-log}" = log ] || [ -z "${ONLY:-}" ]; then echo "round $r: bench:log, $side" >&2; run_log "$side" "$r"; fi
    if [ "${ONLY:-admission}" = admission ] || [ -z "${ONLY:-}" ]; then
      echo "round $r: bench:admission, $side" >&2
      run_admission "$side" "$r"
    fi
  done
done

OUT="$OUT" BASE_LABEL="$BASE_LABEL" ROUNDS="$ROUNDS" node --input-type=module -e '
import { existsSync, readFileSync } from "node:fs";
const { OUT, BASE_LABEL, ROUNDS } = process.env;
const read = (f) => (existsSync(`${OUT}/${f}`) ? JSON.parse(readFileSync(`${OUT}/${f}`, "utf8")) : undefined);
const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
const r2 = (x) => (x === null ? null : Math.round(x * 100) / 100);
const metrics = {
  "log entries/s": (j) => j?.entriesPerSecond,
  "log server CPU ms/entry": (j) => j?.serverCpuMsPerEntry,
  "admission warm pinned reviews/s": (j) => j?.warm?.pinnedValidate?.perSecond,
  "admission warm pinned server CPU ms/review": (j) => j?.warm?.pinnedValidate?.serverCpuMsPerReview,
  "admission cold reviews/s": (j) => j?.cold?.perSecond,
  "admission cold server CPU ms/review": (j) => j?.cold?.serverCpuMsPerReview,
  "HTTPS echo baseline reviews/s": (j) => j?.baselineHttpsEcho?.plainNodeHttps?.perSecond,
  // The echo is the same code on both sides: warm pinned over echo of the same run takes out the drift.
  "admission warm pinned / HTTPS echo, same run": (j) =>
    j?.warm?.pinnedValidate?.perSecond / j?.baselineHttpsEcho?.plainNodeHttps?.perSecond,
};
const rows = {};
for (const [name, get] of Object.entries(metrics)) {
  const kind = name.startsWith("log") ? "log" : "admission";
  const side = (s) =>
    Array.from({ length: Number(ROUNDS) }, (_, i) => get(read(`${kind}-${s}-${i + 1}.json`))).filter(
      (x) => typeof x === "number" && Number.isFinite(x),
    );
  const built = side("built");
  const base = side("base");
  if (built.length + base.length === 0) continue;
  rows[name] = { built: built.map(r2), base: base.map(r2), builtToBase: r2(mean(built) / mean(base)) };
}
console.log(JSON.stringify({ bench: "paired-build", built: "dist/ (node bin/sigil.js)", base: BASE_LABEL, rounds: Number(ROUNDS), out: OUT, metrics: rows }, null, 2));
'
