#!/usr/bin/env bash
# Issue #18, session 11: the write gate on the soft setting met all three editing goals on val (ES 51.0, retention
# 97.9, drawdown −0.003). `stack.sh O`: the same setting again with the stacking table (--stack: 1, 2, 4, 8, 16
# edits at once); `stack.sh O seed1`: a second seed of it (generator init, context order, locality draws).
set -eu
O=${1:-/tmp/s11}
run() { node dist/app/experiments/delta-mode.js --people 16 --split val --optimizers direct --locality-people all \
  --locality-loss soft --fast-gate "$@"; }
case "${2:-stack}" in
  stack) run --stack --save "$O/gen-gate-stack" --out "$O/gate-stack" > "$O/gate-stack.log" 2>&1 ;;
  seed1) run --seed 1 --out "$O/gate-seed1" > "$O/gate-seed1.log" 2>&1 ;;
esac
