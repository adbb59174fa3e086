#!/usr/bin/env bash
# `make bench`: runs every benchmark present, in this order:
#   bench/local.sh, then bench/*/run.sh (bench/rsync/run.sh, ...), then any other bench/*.sh.
# Each prints its own table. Arguments are not passed on (each script has its defaults).
# Exit status: 1 if any benchmark script failed, else 0.
set -u
cd "$(dirname "$0")" || exit 1

scripts=()
[ -f local.sh ] && scripts+=(local.sh)
for s in */run.sh; do [ -f "$s" ] && scripts+=("$s"); done
for s in *.sh; do
  case $s in run.sh|local.sh) ;; *) [ -f "$s" ] && scripts+=("$s") ;; esac
done

status=0
for s in "${scripts[@]}"; do
  echo "=== bench/$s"
  if ! bash "$s"; then
    echo "=== bench/$s FAILED" >&2
    status=1
  fi
  echo
done
exit $status
