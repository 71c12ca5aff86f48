#!/usr/bin/env bash
# Issue #18, session 11: the write gate on the soft setting met all three editing goals on val (ES 51.0, retention
# 97.9, drawdown −0.003): the same setting again with the stacking table (--stack: 1, 2, 4, 8, 16 edits at once).
set -eu
O=${1:-/tmp/s11}
node dist/app/experiments/delta-mode.js --people 16 --split val --optimizers direct --locality-people all \
  --locality-loss soft --fast-gate --stack --save "$O/gen-gate-stack" --out "$O/gate-stack" > "$O/gate-stack.log" 2>&1
