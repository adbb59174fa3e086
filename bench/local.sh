#!/usr/bin/env bash
# Local (no network) benchmark: the real csync2 against ours on the same generated trees.
#
#   bench/local.sh [tree10k] [tree50k] [flat10k|dirs3k|odd5k]   (default: tree10k tree50k; needs `make build`)
#
# For each tree, each implementation gets its own copy of the tree (cp -a: same names, sizes,
# mtimes) and its own database, and one run of each case is timed with /usr/bin/time:
#   -cIr initial      fresh database, init run
#   -cr no change     nothing changed since the previous run
#   -cr 1% touched    1% of the files rewritten (bench/gen-tree touch, same files on both copies)
#   -cr fresh db      database removed first: every file is new and marked dirty for the peer
# The config has one group with this host and a peer (never contacted), so dirty rows get written.
# After the runs the `file` and `dirty` tables of both databases are compared (paths normalised,
# storage class of dirty.forced included).
# An implementation that fails shows `n/a` (its log is kept and named).
# Env: BENCH_WORK=dir (work dir, default a temp dir), BENCH_KEEP=1 (keep it and the logs),
#      BENCH_OURS=path (another build to put in the "ours" column).
set -u -o pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
REAL=/usr/sbin/csync2
OURS=${BENCH_OURS:-$REPO/bin/csync2}
GEN=$REPO/dist/bench/gen-tree.js
TIME=/usr/bin/time
NODE=${NODE:-node}

[ -f "$GEN" ] || { echo "bench/local.sh: $GEN missing; run 'make build' first" >&2; exit 1; }
[ -x "$TIME" ] || { echo "bench/local.sh: $TIME missing (apt-get install time)" >&2; exit 1; }
[ -x "$REAL" ] || { echo "bench/local.sh: $REAL missing (apt-get install csync2)" >&2; exit 1; }

TREES=("$@")
[ ${#TREES[@]} -gt 0 ] || TREES=(tree10k tree50k)

WORK=${BENCH_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/csync2-bench-local.XXXXXX")}
mkdir -p "$WORK"
LOGS=$WORK/logs
mkdir -p "$LOGS"
cleanup() { [ -n "${BENCH_KEEP:-}" ] || rm -rf "$WORK"; }
trap cleanup EXIT

HOST=benchhost
PEER=benchpeer
KEY=benchbenchbenchbenchbenchbenchbenchbenchbenchbenchbenchbenchbenc

# setup IMPL TREE: etc/ (config + key) and db/ beside the data copy.
setup() {
  local dir=$WORK/$2/$1
  mkdir -p "$dir/etc" "$dir/db"
  printf '%s\n' "$KEY" > "$dir/etc/csync2.key"
  chmod 600 "$dir/etc/csync2.key"
  printf 'group bench\n{\n\thost %s %s;\n\tkey csync2.key;\n\tinclude %s;\n}\n' "$HOST" "$PEER" "$dir/data" > "$dir/etc/csync2.cfg"
}

# first_error LOG: the line that best explains a failure.
first_error() {
  { grep -m1 -iE 'error|fatal|cannot|failed' "$1" || grep -m1 -v '^[[:space:]]*$' "$1"; } | cut -c1-160
}

# measure IMPL TREE NAME ARGS...: prints "seconds maxrss_kb", or "n/a" when the command fails.
measure() {
  local impl=$1 tree=$2 name=$3; shift 3
  local dir=$WORK/$tree/$impl bin=$REAL
  [ "$impl" = ours ] && bin=$OURS
  local log=$LOGS/$tree-$impl-$name.log tfile=$LOGS/$tree-$impl-$name.time
  if CSYNC2_SYSTEM_DIR=$dir/etc "$TIME" -f '%e %M' -o "$tfile" "$bin" -N "$HOST" -D "$dir/db" "$@" >"$log" 2>&1; then
    tail -n 1 "$tfile"
  else
    echo "n/a"
    printf '%s %s %s failed (%s): %s\n' "$tree" "$name" "$impl" "$log" "$(first_error "$log")" >> "$LOGS/failures"
  fi
}

# dbdump IMPL TREE TABLE: rows with the data path replaced by DATA (comparable across copies).
dbdump() {
  local dir=$WORK/$2/$1
  local cols='*'
  [ "$3" = dirty ] && cols="filename, forced, typeof(forced), myname, peername"
  sqlite3 "$dir/db/$HOST.db3" "SELECT $cols FROM $3 ORDER BY 1, 2" 2>/dev/null | sed "s|$dir/data|DATA|g"
}

ROWS=()
row() { # row CASE REAL OURS
  local case=$1 real=$2 ours=$3
  local rs=${real% *} rk=${real#* } os=${ours% *} ok=${ours#* }
  if [ "$real" = n/a ]; then rs=n/a; rk=; fi
  if [ "$ours" = n/a ]; then os=n/a; ok=; fi
  local ratio=n/a rmb=n/a omb=n/a
  [ -n "$rk" ] && rmb=$(awk -v k="$rk" 'BEGIN { printf "%.0f", k / 1024 }')
  [ -n "$ok" ] && omb=$(awk -v k="$ok" 'BEGIN { printf "%.0f", k / 1024 }')
  if [ "$rs" != n/a ] && [ "$os" != n/a ]; then
    ratio=$(awk -v o="$os" -v r="$rs" 'BEGIN { if (r > 0) printf "%.2f", o / r; else print "inf" }')
  fi
  ROWS+=("$(printf '%-26s | %8s | %8s | %9s | %7s | %7s' "$case" "$rs" "$os" "$ratio" "$rmb" "$omb")")
}

echo "csync2 local benchmark: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(uname -r), node $($NODE --version)"
for tree in "${TREES[@]}"; do
  echo "== $tree: generating"
  "$NODE" "$GEN" gen "$WORK/$tree/real/data" "$tree" || exit 1
  mkdir -p "$WORK/$tree/ours"
  cp -a "$WORK/$tree/real/data" "$WORK/$tree/ours/data" || exit 1
  setup real "$tree"
  setup ours "$tree"
  sync  # generation's dirty pages should not be flushed during the first timed run

  r=$(measure real "$tree" init -cIr "$WORK/$tree/real/data")
  o=$(measure ours "$tree" init -cIr "$WORK/$tree/ours/data")
  row "$tree -cIr initial" "$r" "$o"

  r=$(measure real "$tree" nochange -cr "$WORK/$tree/real/data")
  o=$(measure ours "$tree" nochange -cr "$WORK/$tree/ours/data")
  row "$tree -cr no change" "$r" "$o"

  "$NODE" "$GEN" touch "$WORK/$tree/real/data" --percent 1 >/dev/null
  "$NODE" "$GEN" touch "$WORK/$tree/ours/data" --percent 1 >/dev/null
  r=$(measure real "$tree" touched -cr "$WORK/$tree/real/data")
  o=$(measure ours "$tree" touched -cr "$WORK/$tree/ours/data")
  row "$tree -cr 1% touched" "$r" "$o"

  rm -f "$WORK/$tree/real/db/"* "$WORK/$tree/ours/db/"*
  r=$(measure real "$tree" freshdb -cr "$WORK/$tree/real/data")
  o=$(measure ours "$tree" freshdb -cr "$WORK/$tree/ours/data")
  row "$tree -cr fresh db" "$r" "$o"

  for table in file dirty; do
    if [ ! -f "$WORK/$tree/ours/db/$HOST.db3" ]; then
      echo "  $table table: ours has no database"
    elif cmp -s <(dbdump real "$tree" $table) <(dbdump ours "$tree" $table); then
      echo "  $table table: ours = real ($(dbdump real "$tree" $table | wc -l) rows)"
    else
      echo "  $table table: DIFFERENT (real $(dbdump real "$tree" $table | wc -l) rows, ours $(dbdump ours "$tree" $table | wc -l) rows), first difference:"
      diff <(dbdump real "$tree" $table) <(dbdump ours "$tree" $table) > "$LOGS/$tree-$table.diff"
      grep -m1 '^<' "$LOGS/$tree-$table.diff" | sed 's/^</    real:/'
      grep -m1 '^>' "$LOGS/$tree-$table.diff" | sed 's/^>/    ours:/'
    fi
  done
  rm -rf "$WORK/$tree/real/data" "$WORK/$tree/ours/data"
done

echo
if [ -s "$LOGS/failures" ]; then
  echo "failed runs (BENCH_KEEP=1 keeps the logs):"
  sed 's/^/  /' "$LOGS/failures"
  echo
fi
printf '%-26s | %8s | %8s | %9s | %7s | %7s\n' case 'real s' 'ours s' 'ours/real' 'real MB' 'ours MB'
printf '%s\n' "${ROWS[@]}"
