#!/usr/bin/env bash
# Daemon benchmark: a REAL csync2 client pushing to OUR daemon vs to a REAL daemon, in one run.
#
# Two hosts on loopback addresses (127.a.b.1 = client, 127.a.b.2 = server), each with its own
# CSYNC2_SYSTEM_DIR, database and data directory (a `prefix data` block), TLS on (certificates
# from bin/csync2-cert). Cases, each a `csync2 -uv` of the real client against a one-shot
# (`-iii`) daemon started under /usr/bin/time:
#   tree10k new       bench/gen-tree tree10k (10k files, ~330 dirs) onto an empty server
#                     (--tree NAME: another bench/gen-tree shape, e.g. flat10k, dirs3k, odd5k)
#   200MB new         one 200 MiB random file, new on the server
#   200MB 1MB changed the same file with 1 MiB overwritten in the middle (SIG, delta, PATCH)
# The client's check (-cr) runs before each push and is not timed. Every run starts from empty
# server and client state; the implementations alternate run by run; the table shows the best
# of RUNS client wall times, the ratio ours/real, and the daemon's max RSS (its worst run).
# After each run the server trees are compared with the client's (contents, modes, mtimes).
#
#   bench/daemon/run.sh [--runs N] [--keep] [--tree NAME]     (needs `make build`)
#   DAEMON_BENCH_DIR=/some/dir to work elsewhere than $TMPDIR.
set -euo pipefail

RUNS=3
KEEP=0
TREE=tree10k
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --tree) TREE=$2; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--keep] [--tree NAME]" >&2; exit 2 ;;
  esac
done

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
REAL=/usr/sbin/csync2
OURS=("$(command -v node)" "$ROOT/bin/csync2")
TIME=/usr/bin/time
GEN=$ROOT/dist/bench/gen-tree.js
for tool in "$REAL" "$TIME"; do
  [ -x "$tool" ] || { echo "bench/daemon: $tool is missing (apt-get install csync2 time)" >&2; exit 1; }
done
[ -f "$GEN" ] || { echo "bench/daemon: build first (make build)" >&2; exit 1; }

WORK=$(mktemp -d "${DAEMON_BENCH_DIR:-${TMPDIR:-/tmp}}/csync2-ts-daemon-bench.XXXXXX")
DAEMON_PID=
cleanup() {
  [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null || true
  [ "$KEEP" = 1 ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

# --- addresses, port, hosts ---------------------------------------------------
NET=127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1))
A=$NET.1
B=$NET.2
PORT=$(node -e '
  const net = require("net");
  const s = net.createServer().listen({ host: process.argv[1], port: 0 }, () => { console.log(s.address().port); s.close(); });
' "$B")
KEY=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 64)

mkhost() { # NAME DIR
  mkdir -p "$2/etc" "$2/db" "$2/data"
  printf '%s\n' "$KEY" > "$2/etc/csync2.key"
  chmod 600 "$2/etc/csync2.key"
  "${OURS[0]}" "$ROOT/bin/csync2-cert" "$2/etc" > /dev/null
  cat > "$2/etc/csync2.cfg" <<EOF
group bench
{
	host $A $B;
	key csync2.key;
	include %data%;
}
prefix data
{
	on $A: $WORK/a/data;
	on $B: $WORK/b/data;
}
EOF
}
mkhost "$A" "$WORK/a"
mkhost "$B" "$WORK/b"

# --- the data ----------------------------------------------------------------
SRC=$WORK/src
mkdir -p "$SRC"
node "$GEN" gen "$SRC/$TREE" "$TREE" > /dev/null
dd if=/dev/urandom of="$SRC/big.bin" bs=1M count=200 iflag=fullblock status=none
cp "$SRC/big.bin" "$SRC/big.changed"
dd if=/dev/urandom of="$SRC/big.changed" bs=1M count=1 seek=100 conv=notrunc status=none
touch -d @1700000000 "$SRC/big.bin"
touch -d @1700000100 "$SRC/big.changed"

LOGS=$WORK/logs
mkdir -p "$LOGS"
declare -A BEST RSS

client() { CSYNC2_SYSTEM_DIR=$WORK/a/etc "$REAL" -N "$A" -D "$WORK/a/db" -p "$PORT" "$@"; }

# push IMPL CASE: one -iii daemon under time, one timed client -uv; records best time and max RSS.
push() {
  local impl=$1 case=$2 cmd
  if [ "$impl" = ours ]; then cmd=("${OURS[@]}"); else cmd=("$REAL"); fi
  CSYNC2_SYSTEM_DIR=$WORK/b/etc "$TIME" -f '%e %M' -o "$LOGS/$impl-$case.dtime" \
    "${cmd[@]}" -N "$B" -D "$WORK/b/db" -p "$PORT" -iii -v > "$LOGS/$impl-$case.daemon" 2>&1 &
  DAEMON_PID=$!
  until ss -ltn "sport = :$PORT" | grep -q "$B:$PORT"; do
    kill -0 "$DAEMON_PID" 2>/dev/null || { echo "bench/daemon: the $impl daemon did not start:" >&2; cat "$LOGS/$impl-$case.daemon" >&2; exit 1; }
    sleep 0.02
  done
  local t0 t1
  t0=$(date +%s.%N)
  if ! client -uv > "$LOGS/$impl-$case.client" 2>&1; then
    echo "bench/daemon: $case against the $impl daemon failed:" >&2
    tail -n 5 "$LOGS/$impl-$case.client" >&2
    exit 1
  fi
  t1=$(date +%s.%N)
  wait "$DAEMON_PID" || { echo "bench/daemon: the $impl daemon failed ($case):" >&2; tail -n 5 "$LOGS/$impl-$case.daemon" >&2; exit 1; }
  DAEMON_PID=
  local secs rss
  secs=$(echo "$t1 - $t0" | bc)
  rss=$(awk '{print $2}' "$LOGS/$impl-$case.dtime" | tail -n 1)
  local k="$impl/$case"
  if [ -z "${BEST[$k]:-}" ] || [ "$(echo "$secs < ${BEST[$k]}" | bc)" = 1 ]; then BEST[$k]=$secs; fi
  if [ -z "${RSS[$k]:-}" ] || [ "$rss" -gt "${RSS[$k]}" ]; then RSS[$k]=$rss; fi
}

same_trees() { # the server holds what the client holds (contents, modes, owners, file mtimes)
  local a b
  # The path goes last (names may hold spaces); whole seconds; no mtime for directories.
  local listing='{ split($6, t, "."); $6 = ($1 == "d") ? "" : t[1]; print }'
  a=$(cd "$WORK/a/data" && find . -printf '%y %m %u %g %s %T@ %p\n' | awk "$listing" | sort)
  b=$(cd "$WORK/b/data" && find . -printf '%y %m %u %g %s %T@ %p\n' | awk "$listing" | sort)
  [ "$a" = "$b" ] || { echo "bench/daemon: trees differ after the $1 run" >&2; diff <(echo "$a") <(echo "$b") | head >&2; exit 1; }
  cmp -s "$WORK/a/data/big.bin" "$WORK/b/data/big.bin" || { echo "bench/daemon: big.bin differs ($1)" >&2; exit 1; }
}

one_run() { # IMPL
  local impl=$1
  rm -rf "$WORK/a/data" "$WORK/b/data" "$WORK/a/db" "$WORK/b/db"
  mkdir -p "$WORK/a/data" "$WORK/b/data" "$WORK/a/db" "$WORK/b/db"
  cp -a "$SRC/$TREE" "$WORK/a/data/$TREE"
  client -cr "$WORK/a/data" > /dev/null 2>&1
  push "$impl" "$TREE"
  cp -a "$SRC/big.bin" "$WORK/a/data/big.bin"
  client -cr "$WORK/a/data" > /dev/null 2>&1
  push "$impl" 200MB-new
  cp -a "$SRC/big.changed" "$WORK/a/data/big.bin"
  client -cr "$WORK/a/data" > /dev/null 2>&1
  push "$impl" 200MB-changed
  same_trees "$impl"
}

for run in $(seq "$RUNS"); do
  if [ $((run % 2)) = 1 ]; then order="real ours"; else order="ours real"; fi
  for impl in $order; do one_run "$impl"; done
done

# --- the table -----------------------------------------------------------------
printf '\nREAL csync2 client -> daemon, TLS, best of %s runs (client wall time), daemon max RSS\n' "$RUNS"
printf '%-16s %10s %10s %7s %14s %14s\n' case real_s ours_s ratio real_rss_MB ours_rss_MB
for c in "$TREE" 200MB-new 200MB-changed; do
  r=${BEST[real/$c]} o=${BEST[ours/$c]}
  printf '%-16s %10.2f %10.2f %7.2f %14.1f %14.1f\n' "$c" "$r" "$o" "$(echo "$o / $r" | bc -l)" \
    "$(echo "${RSS[real/$c]} / 1024" | bc -l)" "$(echo "${RSS[ours/$c]} / 1024" | bc -l)"
done
