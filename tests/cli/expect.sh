#!/usr/bin/env bash
# Runs a command and checks its exit status and that stderr (or stdout) contains a
# pattern. Usage: expect.sh STATUS PATTERN -- command args...
set -u
want=$1; pattern=$2; shift 3
out=$("$@" 2>&1); got=$?
if [ "$got" != "$want" ]; then
  echo "expected exit $want, got $got: $*"; echo "$out"; exit 1
fi
if [ -n "$pattern" ] && ! grep -qE -- "$pattern" <<<"$out"; then
  echo "output of '$*' lacks /$pattern/:"; echo "$out"; exit 1
fi
exit 0
