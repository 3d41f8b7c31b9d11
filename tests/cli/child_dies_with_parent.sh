#!/usr/bin/env bash
# The forked SystemC child ends when its parent is killed (PR_SET_PDEATHSIG).
# Usage: child_dies_with_parent.sh HEATVIT MASKS TMPDIR
set -u
hv=$1; masks=$2; tmp=$3
"$hv" sim --model deit-micro --hw zcu102-heatvit --masks "$masks" --report "$tmp/orphan.json" -q &
parent=$!
child=""
for _ in $(seq 1 1200); do  # up to 120 s for the fork (reading and planning first)
  child=$(pgrep -P "$parent" | head -n1)
  [ -n "$child" ] && break
  sleep 0.1
done
if [ -z "$child" ]; then echo "no child process of $parent appeared"; kill -9 "$parent"; exit 1; fi
kill -9 "$parent"
wait "$parent" 2>/dev/null
for _ in $(seq 1 50); do   # up to 5 s for the kernel to deliver SIGKILL
  kill -0 "$child" 2>/dev/null || exit 0
  sleep 0.1
done
echo "child $child still running after its parent $parent was killed"
kill -9 "$child"
exit 1
