#!/usr/bin/env bash
# Issue #18, session 13: the direct gradient on the same part and budget as the gate policy gradient: the write gate
# alone (--direct-learn gate), from the same warm start with its gate reset, 512 steps × 8 contexts = 4,096 edits.
set -eu
O=${1:-/tmp/s13/d}
while pgrep -f gate-nr.sh > /dev/null; do sleep 10; done
node dist/app/experiments/delta-mode.js --people 16 --split val --optimizers direct --direct-learn gate \
  --direct-steps 512 --direct-lr 1e-2 --fast-gate --init /tmp/s11/gen-gate-stack/direct --reset-gate \
  --locality-people all --locality-loss soft --save "$O/gen-gate-direct" --out "$O/gate-direct" \
  > "$O/gate-direct.log" 2>&1
