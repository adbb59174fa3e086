#!/usr/bin/env bash
# The README's main command (`make demo`): a three-host csync2 cluster on this machine, without root.
#
# Each host is a loopback address of a random 127.a.b.0/24 (reserved like the test harness does) with
# its own system dir (csync2.cfg, group key, TLS key + certificate), database dir and data dir. The
# demo starts the daemons, syncs a tree from host 1, syncs a change and a deletion from host 2, makes
# and resolves a conflict between hosts 1 and 3, audits with -T, and checks every claim it prints
# (trees compared with diff -r). Any step that does not do what it says ends the demo with exit 1.
#
# Environment:
#   CSYNC2_DEMO_CLIENT  the csync2 that runs the client commands (-cIr, -xv, -f, -T, -M), default ours
#   CSYNC2_DEMO_DAEMON  the csync2 that runs the daemons (-ii), default ours
#   CSYNC2_DEMO_KEEP=1  keep the work directory (its path is printed) instead of removing it
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
OURS="$REPO/bin/csync2"
CLIENT=${CSYNC2_DEMO_CLIENT:-$OURS}
DAEMON=${CSYNC2_DEMO_DAEMON:-$OURS}
TMP=${TMPDIR:-/tmp}
# The name prefix of the test harness's cluster directories: if this script is killed with SIGKILL, the
# harness's stale-lock sweep (test/helpers/net.ts) removes the directory recorded in our subnet lock.
WORK=$(mktemp -d "$TMP/csync2-ts-cluster-demo.XXXXXX")
STARTED=$(date +%s)

# ---------------------------------------------------------------------------------------------------
# Output and checks

if [ -t 1 ]; then BOLD=$'\033[1m' DIM=$'\033[2m' RED=$'\033[31m' OFF=$'\033[0m'; else BOLD='' DIM='' RED='' OFF=''; fi
STEP=0
heading() { STEP=$((STEP + 1)); printf '\n%s== %d. %s%s\n' "$BOLD" "$STEP" "$*" "$OFF"; }
note() { printf '%s\n' "$*"; }
ok() { printf '   ok: %s\n' "$*"; }
fail() {
  printf '\n%sDEMO FAILED in step %d: %s%s\n' "$RED$BOLD" "$STEP" "$*" "$OFF" >&2
  [ -s "$WORK/last.out" ] && { printf -- '--- output of the last command:\n' >&2; cat "$WORK/last.out" >&2; }
  exit 1
}

# ---------------------------------------------------------------------------------------------------
# Three hosts: names, processes, clean-up

SUBNET_LOCKS="$TMP/csync2-ts-test-subnets"
LOCK=''
PIDS=()

# True once process $1 has exited (gone, or a zombie waiting for us to reap it).
exited() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  [ "${stat:0:1}" = Z ]
}

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 30); do exited "$pid" && break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true  # the daemon if it is stuck, and whatever it forked
    wait "$pid" 2>/dev/null || true
  done
  [ -z "$LOCK" ] || rm -rf "$LOCK"
  if [ "${CSYNC2_DEMO_KEEP:-}" = 1 ]; then printf 'work directory kept: %s\n' "$WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A 127.a.b.0/24 of our own: the lock directory protocol of test/helpers/net.ts (owner pid inside).
mkdir -p "$SUBNET_LOCKS"
for _ in $(seq 1 200); do
  prefix="127.$((64 + RANDOM % 190)).$((RANDOM % 256))"
  if mkdir "$SUBNET_LOCKS/$prefix" 2>/dev/null; then
    echo $$ > "$SUBNET_LOCKS/$prefix/pid"
    printf '%s' "$WORK" > "$SUBNET_LOCKS/$prefix/root"
    LOCK="$SUBNET_LOCKS/$prefix"
    break
  fi
done
[ -n "$LOCK" ] || fail "no free loopback subnet under $SUBNET_LOCKS"
NAMES=("$prefix.1" "$prefix.2" "$prefix.3")

# A port below the ephemeral range that nothing uses on any of the three addresses.
PORT=$(node -e '
  const net = require("node:net");
  const low = Number(require("node:fs").readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").split(/\s+/)[0]) || 32768;
  const canBind = (host, port) => new Promise((ok) => {
    const s = net.createServer(); s.once("error", () => ok(false));
    s.listen({ host, port, exclusive: true }, () => s.close(() => ok(true)));
  });
  (async () => {
    for (let i = 0; i < 200; i++) {
      const port = 20000 + Math.floor(Math.random() * (low - 20000));
      if (port === 30865 || (port >= 31000 && port < 32000)) continue;
      let free = true;
      for (const host of process.argv.slice(1)) if (!(await canBind(host, port))) { free = false; break; }
      if (free) { console.log(port); return; }
    }
    process.exit(1);
  })();' "${NAMES[@]}") || fail "no free TCP port on ${NAMES[*]}"

h() { printf '%s' "$WORK/h$1"; }     # host directory
short() { printf '%s' "${1//$WORK\//}"; }  # paths relative to the work directory, for display

# Shows a command's output indented: paths shortened, long lines (certificates) cut, at most 24 lines.
show() {
  awk -v work="$WORK/" -v dim="$DIM" -v off="$OFF" '
    { gsub(work, ""); if (length($0) > 110) $0 = substr($0, 1, 100) "..."; n++ }
    n <= 24 { print "   " dim "| " $0 off }
    END { if (n > 24) print "   " dim "| ... (" n - 24 " more lines)" off }' "$1"
}
data() { printf '%s' "$WORK/h$1/data"; }

# Runs csync2 as host N, showing the command; the output is shown indented and kept in last.out.
# usage: cs N EXPECTED_EXIT args...   (EXPECTED_EXIT may be "any")
cs() {
  local n=$1 want=$2 code=0
  shift 2
  printf '%shost%d$ csync2 %s%s\n' "$BOLD" "$n" "$(short "$*")" "$OFF"
  CSYNC2_SYSTEM_DIR="$(h "$n")/etc" "$CLIENT" -N "${NAMES[n-1]}" -D "$(h "$n")/db" -p "$PORT" "$@" \
    > "$WORK/last.out" 2>&1 || code=$?
  show "$WORK/last.out"
  printf '   %s(exit %d)%s\n' "$DIM" "$code" "$OFF"
  if [ "$want" != any ] && [ "$code" != "$want" ]; then fail "csync2 $* on host $n exited $code, expected $want"; fi
  return 0
}

expect_output() { grep -q -- "$1" "$WORK/last.out" || fail "expected the output to contain: $1"; }

# Every data dir holds the same tree (contents, modes, symlinks); excluded files are not compared.
same_trees() {
  local n
  for n in 2 3; do
    diff -r --no-dereference -x '*.swp' "$(data 1)" "$(data "$n")" > "$WORK/last.out" 2>&1 \
      || fail "the trees of host 1 and host $n differ"
    [ "$(cd "$(data 1)" && find . ! -name '*.swp' -printf '%P %y %m\n' | sort)" = \
      "$(cd "$(data "$n")" && find . ! -name '*.swp' -printf '%P %y %m\n' | sort)" ] \
      || fail "file types or modes differ between host 1 and host $n"
  done
  ok "diff -r: the three data directories are identical${1:+ ($1)}"
}

# ---------------------------------------------------------------------------------------------------

printf '%scsync2-ts demo: three hosts on this machine%s\n' "$BOLD" "$OFF"
note "Hosts ${NAMES[0]} (host1), ${NAMES[1]} (host2) and ${NAMES[2]} (host3), TCP port $PORT, all under $WORK."
note "Client: $CLIENT"
note "Daemon: $DAEMON"

heading "Set-up: a group key, one TLS certificate per host, the same csync2.cfg everywhere"
mkdir -p "$(h 1)/etc"
CERT_JOBS=()
"$OURS" -k "$(h 1)/etc/csync2.key" || fail "csync2 -k failed"
for n in 1 2 3; do
  mkdir -p "$(h "$n")/etc" "$(h "$n")/db" "$(data "$n")"
  [ "$n" = 1 ] || cp -p "$(h 1)/etc/csync2.key" "$(h "$n")/etc/"
  "$REPO/bin/csync2-cert" "$(h "$n")/etc" > "$(h "$n")/cert.log" 2>&1 &  # ~0.3 s of key generation each
  CERT_JOBS+=("$!")
  cat > "$(h "$n")/etc/csync2.cfg" <<EOF
# The same file on every host; %data% is each host's own data directory.
group demo {
  host ${NAMES[0]} ${NAMES[1]} ${NAMES[2]};
  key csync2.key;
  include %data%;
  exclude *.swp;
}
prefix data {
  on ${NAMES[0]}: $(data 1);
  on ${NAMES[1]}: $(data 2);
  on ${NAMES[2]}: $(data 3);
}
EOF
done
for n in 1 2 3; do
  wait "${CERT_JOBS[n-1]}" || { cp "$(h "$n")/cert.log" "$WORK/last.out"; fail "csync2-cert failed for host $n"; }
done
note "\$ csync2 -k csync2.key                 # one 64-character group key, copied to every host"
note "\$ csync2-cert <host>/etc                # csync2_ssl_key.pem + csync2_ssl_cert.pem per host"
note "csync2.cfg (hosts are named by their address; every command below runs with -N <address>):"
sed "s|$WORK/||g; s/^/   | /" "$(h 1)/etc/csync2.cfg"
note "Every 'hostN\$ csync2 ...' line below really runs:"
note "   CSYNC2_SYSTEM_DIR=hN/etc csync2 -N <address of N> -D hN/db -p $PORT ..."

heading "Start a daemon on each host (csync2 -ii: stand-alone server, TLS on)"
# Each daemon leads its own process group (setsid: the clean-up kills the group, which includes the
# sessions a real csync2 daemon forks) and dies with this script even if it is killed (pdeathsig).
PDEATH=(); [ -x /usr/bin/setpriv ] && PDEATH=(/usr/bin/setpriv --pdeathsig SIGKILL)
for n in 1 2 3; do
  printf '%shost%d$ csync2 -ii -v &%s\n' "$BOLD" "$n" "$OFF"
  CSYNC2_SYSTEM_DIR="$(h "$n")/etc" "${PDEATH[@]}" setsid "$DAEMON" -N "${NAMES[n-1]}" -D "$(h "$n")/db" \
    -p "$PORT" -ii -v < /dev/null > "$(h "$n")/daemon.log" 2>&1 &
  PIDS+=("$!")
done
# A LISTEN socket on address:port in /proc/net/tcp (connecting to probe would start a session).
listening() {
  local a b c d
  IFS=. read -r a b c d <<< "$1"
  grep -q "^ *[0-9]*: $(printf '%02X%02X%02X%02X:%04X' "$d" "$c" "$b" "$a" "$PORT") 00000000:0000 0A" /proc/net/tcp
}
for n in 1 2 3; do
  for _ in $(seq 1 100); do listening "${NAMES[n-1]}" && break; sleep 0.05; done
  listening "${NAMES[n-1]}" || { cp "$(h "$n")/daemon.log" "$WORK/last.out"; fail "the daemon of host $n does not listen on ${NAMES[n-1]}:$PORT"; }
done
ok "three daemons listen (pids ${PIDS[*]})"

heading "Create a tree on host 1"
mkdir -p "$(data 1)/etc/app" "$(data 1)/www/img"
printf 'listen 80\n' > "$(data 1)/etc/app/app.conf"
printf 'alice\nbob\n' > "$(data 1)/etc/app/users.list"
chmod 640 "$(data 1)/etc/app/users.list"
printf '<h1>hello</h1>\n' > "$(data 1)/www/index.html"
head -c 65536 /dev/urandom > "$(data 1)/www/img/logo.bin"
ln -s index.html "$(data 1)/www/home.html"
printf 'editor scratch\n' > "$(data 1)/www/.index.html.swp"
(cd "$(data 1)" && find . -mindepth 1 -printf '   %P  (%y, mode %m)\n' | sort)
ENTRIES=$(cd "$(data 1)" && find . -mindepth 1 ! -name '*.swp' | wc -l)
note "(the .swp file matches 'exclude *.swp' and must never leave host 1)"

heading "Initial check on every host (-cIr): fill the file tables, mark nothing dirty"
for n in 1 2 3; do cs "$n" 0 -cIr "$(data "$n")"; done
note "Host 1's data is not dirty yet: -I records what exists, so a fresh host does not push it."
note "To push it, host 1 marks its files dirty (-m), as an admin does after the first set-up:"
cs 1 0 -mr "$(data 1)"
cs 1 0 -M
expect_output "www/index.html"

heading "Host 1 pushes its tree to hosts 2 and 3 (-xv: check, then update every peer)"
cs 1 0 -xv
same_trees "$ENTRIES entries delivered to host 2 and host 3"
[ ! -e "$(data 2)/www/.index.html.swp" ] && [ ! -e "$(data 3)/www/.index.html.swp" ] \
  || fail "the excluded .swp file was copied"
ok "the excluded .swp file stayed on host 1"
[ "$(readlink "$(data 3)/www/home.html")" = index.html ] || fail "the symlink did not arrive as a symlink"
ok "www/home.html arrived as a symlink, users.list with mode 640"
cs 1 2 -M
note "(-M exits 2: nothing left to push)"

heading "A change and a deletion on host 2, pushed from host 2"
printf '<h1>hello from host 2</h1>\n' > "$(data 2)/www/index.html"
rm "$(data 2)/etc/app/users.list"
note "host2: edited www/index.html, deleted etc/app/users.list"
cs 2 0 -xv
same_trees "the change and the deletion reached hosts 1 and 3"
[ ! -e "$(data 1)/etc/app/users.list" ] || fail "users.list is still on host 1"
grep -q 'host 2' "$(data 3)/www/index.html" || fail "host 3 did not get host 2's index.html"

heading "A conflict: etc/app/app.conf changed on host 1 AND on host 3"
printf 'listen 8080\n' > "$(data 1)/etc/app/app.conf"
printf 'listen 9443 ssl\n' > "$(data 3)/etc/app/app.conf"
note "host1: app.conf = 'listen 8080'      host3: app.conf = 'listen 9443 ssl'"
note "Host 1 pushes: host 2 accepts, host 3 refuses (its own copy changed too):"
cs 1 any -xv
expect_output "File stays in dirty state"
grep -qx 'listen 9443 ssl' "$(data 3)/etc/app/app.conf" || fail "host 3's app.conf was overwritten despite the conflict"
grep -qx 'listen 8080' "$(data 2)/etc/app/app.conf" || fail "host 2 did not get host 1's app.conf"
ok "host 3 kept its version; app.conf is dirty on host 1 (for host 3) and on host 3 (found by its daemon)"
cs 1 0 -M
expect_output "etc/app/app.conf"
cs 3 0 -M
expect_output "etc/app/app.conf"

heading "Resolve it: host 3's version wins (-f marks it forced, -xv pushes it to hosts 1 and 2)"
cs 3 0 -f "$(data 3)/etc/app/app.conf"
cs 3 0 -xv
same_trees "everyone has host 3's app.conf"
grep -qx 'listen 9443 ssl' "$(data 1)/etc/app/app.conf" || fail "host 1 did not get host 3's app.conf"

heading "Audit: -T compares this host's file table with every peer's (exit 2 = in sync)"
for n in 1 2 3; do cs "$n" 2 -T; done
for n in 1 2 3; do cs "$n" 2 -M; done
ok "-T exits 2 on all hosts and no host has dirty entries left (-M exits 2)"

heading "Summary"
count() { local n out=''; for n in 1 2 3; do out+="${out:+/}$(grep -c -- "$1" "$(h "$n")/daemon.log" || true)"; done; printf '%s' "$out"; }
cat <<EOF
   - 3 hosts, each with its own csync2.cfg, key, certificate, database and data directory; TLS between all.
   - host 1 created $ENTRIES entries (directories, files, a symlink); -xv delivered them to hosts 2 and 3,
     except the excluded .swp file.
   - host 2 changed index.html and deleted users.list; -xv on host 2 carried both to hosts 1 and 3.
   - app.conf changed on hosts 1 and 3: host 3 refused host 1's push ("File stays in dirty state");
     -f on host 3 made its version win, -xv delivered it to hosts 1 and 2.
   - -T found all three hosts in sync (exit 2); every step was checked with diff -r.
   - the daemons of hosts 1/2/3 served $(count 'New connection from') connections and applied $(count '^<[0-9]*> Updated ')
     changes (their -v logs: h1/daemon.log ...; keep them with CSYNC2_DEMO_KEEP=1).
   Demo took $(( $(date +%s) - STARTED )) s. Next: docs/admin-guide.md sets up a real cluster.
EOF
