#!/bin/sh
# csync2-locheck.sh - at logout, warn when this host has changes that csync2
# has not yet sent to its peers (part of csync2-ts; works with any csync2 2.x).
#
# Call it from ~/.bash_logout (run it, do not source it):
#
#     /usr/share/csync2-ts/csync2-locheck.sh
#
# What it does: `csync2 -cr /` records what changed since the last run, then
# `csync2 -M` lists the dirty entries (file + peer that still lacks it).
#   - nothing pending: prints nothing, exit 0;
#   - changes pending: prints the files and the peers they still have to go to;
#     then, if standard input is a terminal (and -n was not given), asks
#     whether to log out anyway. Anything but "yes" starts a new login shell
#     instead, so the changes can be synced first (`csync2 -x`). Without a
#     terminal it never asks. Exit 1;
#   - csync2 could not tell (stop switch present, configuration or database
#     error, csync2 missing): prints why on standard error, exit 2.
#
# Options:  -n  never ask, only report.   -h  this text.
# Environment: CSYNC2 (the command, default `csync2`), CSYNC2_OPTS (options
# added to both runs, e.g. `-C web` or `-N node1.example.com`),
# CSYNC2_SYSTEM_DIR (as for csync2: where csync2.cfg and csync2.lock are).

ask=yes
while getopts nh opt; do
	case $opt in
	n) ask=no ;;
	h) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "usage: $0 [-n]" >&2; exit 2 ;;
	esac
done

csync2=${CSYNC2:-csync2}
lock="${CSYNC2_SYSTEM_DIR:-/etc}/csync2.lock"
# CSYNC2_OPTS is split into words on purpose, but must not be globbed.
set -f

if ! command -v "$csync2" >/dev/null 2>&1; then
	echo "csync2-locheck: '$csync2' not found; unsynced changes were not checked." >&2
	exit 2
fi
if [ -e "$lock" ] || [ -L "$lock" ]; then
	echo "csync2-locheck: syncing is switched off ($lock exists); unsynced changes were not checked." >&2
	exit 2
fi

tmp=$(mktemp "${TMPDIR:-/tmp}/csync2-locheck.XXXXXX") || exit 2
trap 'rm -f "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

# The check may print warnings and still have done its job; keep its messages
# for the case that the listing fails too.
# shellcheck disable=SC2086
"$csync2" $CSYNC2_OPTS -cr / >"$tmp" 2>&1
check_rc=$?
check_out=$(cat "$tmp")

# -M: exit 0 with lines = dirty entries, 2 = none, anything else = error.
# shellcheck disable=SC2086
"$csync2" $CSYNC2_OPTS -M >"$tmp" 2>&1
list_rc=$?

case $list_rc in
2)
	if [ "$check_rc" -ne 0 ]; then
		echo "csync2-locheck: 'csync2 -cr /' failed (exit $check_rc); unsynced changes may be missed:" >&2
		printf '%s\n' "$check_out" >&2
		exit 2
	fi
	exit 0
	;;
0) ;;
*)
	echo "csync2-locheck: 'csync2 -M' failed (exit $list_rc); unsynced changes were not checked:" >&2
	[ -n "$check_out" ] && printf '%s\n' "$check_out" >&2
	cat "$tmp" >&2
	exit 2
	;;
esac

# Lines are "chary|force <TAB> myname <TAB> peer <TAB> file": one line per file
# and peer. Show each file once, with its peers, in csync2's order.
awk -F '\t' '
	NF >= 4 {
		file = $4
		for (i = 5; i <= NF; i++) file = file "\t" $i
		if (!(file in peers)) { order[++n] = file; peers[file] = $3 }
		else peers[file] = peers[file] ", " $3
		if (!($3 in all_peers)) { all_peers[$3] = 1; npeers++ }
		if ($1 == "force") forced[file] = 1
		if (length(file) > width) width = length(file)
	}
	END {
		if (width > 48) width = 48
		print ""
		printf "!! csync2: %d file%s on this host %s not yet synced to %d peer%s:\n", n, (n == 1 ? "" : "s"), (n == 1 ? "is" : "are"), npeers, (npeers == 1 ? "" : "s")
		for (i = 1; i <= n; i++) {
			f = order[i]
			printf "!!   %-" width "s  -> %s%s\n", f, peers[f], ((f in forced) ? "  (forced)" : "")
		}
		print "!! Run \"csync2 -x\" to send them (\"csync2 -xv\" shows what happens)."
		print ""
	}
' "$tmp"

[ "$check_rc" -ne 0 ] && echo "csync2-locheck: note: 'csync2 -cr /' failed (exit $check_rc); the list may be incomplete." >&2

if [ "$ask" = yes ] && [ -t 0 ]; then
	printf 'Log out anyway? Type "yes" to log out, anything else opens a new login shell: '
	if read -r answer && [ "$answer" != yes ]; then
		trap - EXIT
		rm -f "$tmp"
		exec "${SHELL:-/bin/sh}" -l
	fi
fi
exit 1
