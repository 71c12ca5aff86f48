#!/usr/bin/env bash
# Issue #18, session 11: summed edits did not stack (val16-gate-stack: 2 edits 21% ES, 8 edits nothing). The gate
# setting trained on groups of up to 4 summed edits (--stack-train 4), with the stacking table.
set -eu
O=${1:-/tmp/s11}
node dist/app/experiments/delta-mode.js --people 16 --split val --optimizers direct --locality-people all \
  --locality-loss soft --fast-gate --stack-train 4 --stack --save "$O/gen-stack-train4" --out "$O/stack-train4" \
  > "$O/stack-train4.log" 2>&1
