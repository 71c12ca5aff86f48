#!/usr/bin/env bash
# Issue #18, session 11: the soft setting kept 93.0% (goal 95%) at ES 40.4% (goal 35%): a little more locality
# pressure, by weight (--neighbour-kl 2) or by more people per edit (--neighbours-per-edit 2). Started one at a time
# beside pair4's gate run.
set -eu
O=${1:-/tmp/s11}
run() { node dist/app/experiments/delta-mode.js --people 16 --split val --optimizers direct --locality-people all --locality-loss soft "$@"; }
case "${2:-both}" in
  kl2) run --neighbour-kl 2 --save "$O/gen-soft-kl2" --out "$O/soft-kl2" > "$O/soft-kl2.log" 2>&1 ;;
  n2) run --neighbours-per-edit 2 --save "$O/gen-soft-n2" --out "$O/soft-n2" > "$O/soft-n2.log" 2>&1 ;;
  both) "$0" "$O" kl2 & "$0" "$O" n2 & wait ;;
esac
