#!/usr/bin/env bash
# librsync engine benchmark: ours (bin/csync2-rdiff) against the real rdiff, in one run.
#
# A 200 MiB random basis; the new file has 1 MiB changed in each of ten places
# (five overwrites, five insertions, so most of the file is also shifted off the
# block grid). Signature (csync2's MD4/rollsum/2048), delta and patch are timed
# for both tools: wall time and max RSS from /usr/bin/time, best of RUNS runs
# (the tools alternate), outputs removed before each run; plus our engine timed
# inside one node process (bench/rsync/engine.ts), which is what csync2 pays. Outputs are checked: identical signatures,
# identical deltas, patched file == new file.
#
#   bench/rsync/run.sh [--size-mib N] [--runs N] [--keep]
#   RSYNC_BENCH_DIR=/some/dir to work elsewhere than $TMPDIR.
set -euo pipefail

SIZE_MIB=200
RUNS=5
KEEP=0
while [ $# -gt 0 ]; do
  case $1 in
    --size-mib) SIZE_MIB=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    *) echo "usage: $0 [--size-mib N] [--runs N] [--keep]" >&2; exit 2 ;;
  esac
done

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OURS=("$(command -v node)" "$ROOT/bin/csync2-rdiff")
RDIFF=/usr/bin/rdiff
TIME=/usr/bin/time
for tool in "$RDIFF" "$TIME"; do
  [ -x "$tool" ] || { echo "bench/rsync: $tool is missing (apt-get install rdiff time)" >&2; exit 1; }
done
[ -f "$ROOT/dist/src/rsync/cli.js" ] || { echo "bench/rsync: build first (npx tsc -p tsconfig.json)" >&2; exit 1; }

WORK=$(mktemp -d "${RSYNC_BENCH_DIR:-${TMPDIR:-/tmp}}/csync2-ts-rsync-bench.XXXXXX")
cleanup() { [ "$KEEP" = 1 ] && echo "kept $WORK" || rm -rf "$WORK"; }
trap cleanup EXIT

# --- the files -------------------------------------------------------------
MIB=$((1024 * 1024))
SIZE=$((SIZE_MIB * MIB))
dd if=/dev/urandom of="$WORK/basis" bs=1M count="$SIZE_MIB" iflag=fullblock status=none
# Ten edits, evenly spread: even ones overwrite 1 MiB, odd ones insert 1 MiB.
{
  prev=0
  for i in $(seq 0 9); do
    at=$(( (i * 2 + 1) * SIZE / 20 / MIB * MIB ))
    # bytes of the basis up to this edit, then 1 MiB of new data
    dd if="$WORK/basis" bs=1M iflag=skip_bytes,count_bytes skip="$prev" count=$((at - prev)) status=none
    dd if=/dev/urandom bs=1M count=1 iflag=fullblock status=none
    if [ $((i % 2)) -eq 0 ]; then prev=$((at + MIB)); else prev=$at; fi
  done
  dd if="$WORK/basis" bs=1M iflag=skip_bytes skip="$prev" status=none
} > "$WORK/new"
cat "$WORK/basis" "$WORK/new" > /dev/null # warm the page cache for both tools alike

SIGFLAGS=(-H md4 -R rollsum -b 2048 -S 0)

# timed OUT CMD...: one run, OUT removed first -> "seconds kib"
timed() {
  local out=$1; shift
  rm -f "$out"
  "$TIME" -f '%e %M' "$@" 2>&1 >/dev/null | tail -n 1
}

# The two tools alternate run by run (the machine's load drifts); best time, max RSS.
declare -A T M E
for key in rd_sig ts_sig rd_delta ts_delta rd_patch ts_patch; do T[$key]=""; M[$key]=0; done
record() { # key "seconds kib"
  local key=$1 secs=${2% *} kib=${2#* }
  if [ -z "${T[$key]}" ] || awk "BEGIN{exit !($secs < ${T[$key]})}"; then T[$key]=$secs; fi
  [ "$kib" -gt "${M[$key]}" ] && M[$key]=$kib
  return 0
}
for _ in $(seq "$RUNS"); do
  record rd_sig "$(timed "$WORK/rd.sig" "$RDIFF" -f "${SIGFLAGS[@]}" signature "$WORK/basis" "$WORK/rd.sig")"
  record ts_sig "$(timed "$WORK/ts.sig" "${OURS[@]}" -f "${SIGFLAGS[@]}" signature "$WORK/basis" "$WORK/ts.sig")"
done
for _ in $(seq "$RUNS"); do
  record rd_delta "$(timed "$WORK/rd.delta" "$RDIFF" -f delta "$WORK/rd.sig" "$WORK/new" "$WORK/rd.delta")"
  record ts_delta "$(timed "$WORK/ts.delta" "${OURS[@]}" -f delta "$WORK/rd.sig" "$WORK/new" "$WORK/ts.delta")"
done
for _ in $(seq "$RUNS"); do
  record rd_patch "$(timed "$WORK/rd.out" "$RDIFF" -f patch "$WORK/basis" "$WORK/rd.delta" "$WORK/rd.out")"
  record ts_patch "$(timed "$WORK/ts.out" "${OURS[@]}" -f patch "$WORK/basis" "$WORK/rd.delta" "$WORK/ts.out")"
done
# Our engine inside one process (no node start-up), and node's bare start-up.
read -r E[sig] E[delta] E[patch] < <("${OURS[0]}" "$ROOT/dist/bench/rsync/engine.js" "$WORK" "$RUNS")
STARTUP=""
for _ in $(seq "$RUNS"); do
  s=$("$TIME" -f '%e' "${OURS[0]}" -e 0 2>&1 >/dev/null | tail -n 1)
  if [ -z "$STARTUP" ] || awk "BEGIN{exit !($s < $STARTUP)}"; then STARTUP=$s; fi
done

ok=1
cmp -s "$WORK/rd.sig" "$WORK/ts.sig" || { echo "MISMATCH: signatures differ" >&2; ok=0; }
cmp -s "$WORK/rd.delta" "$WORK/ts.delta" || { echo "MISMATCH: deltas differ" >&2; ok=0; }
cmp -s "$WORK/ts.out" "$WORK/new" || { echo "MISMATCH: our patch output differs from the new file" >&2; ok=0; }
cmp -s "$WORK/rd.out" "$WORK/new" || { echo "MISMATCH: rdiff's patch output differs from the new file" >&2; ok=0; }

ratio() { awk "BEGIN{printf \"%.2f\", $1 / ($2 > 0 ? $2 : 0.01)}"; }
echo "rsync engine: ${SIZE_MIB} MiB file, 10 x 1 MiB changed; best of $RUNS; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); delta $(stat -c %s "$WORK/rd.delta") bytes"
echo "process = whole command (ours includes node start-up, ${STARTUP} s bare); engine = our library calls in one process"
printf '%-7s %8s %8s %7s %9s %7s %9s %9s\n' op 'rdiff s' 'ours s' ratio 'engine s' ratio 'rdiff MB' 'ours MB'
for op in sig delta patch; do
  printf '%-7s %8s %8s %7s %9s %7s %9s %9s\n' "$op" "${T[rd_$op]}" "${T[ts_$op]}" "$(ratio "${T[ts_$op]}" "${T[rd_$op]}")" \
    "${E[$op]}" "$(ratio "${E[$op]}" "${T[rd_$op]}")" "$(( ${M[rd_$op]} / 1024 ))" "$(( ${M[ts_$op]} / 1024 ))"
done
[ "$ok" = 1 ] && echo "outputs: signatures identical, deltas identical, patched files correct"
[ "$ok" = 1 ]
