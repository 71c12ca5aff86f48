#!/usr/bin/env bash
# Issue #18, session 15: the magnitude–success–locality trade-off curve (acceptance check 4) on the 16 val people:
# session 11's gated direct-gradient setting (stack.sh) trained once per edit-magnitude weight 0, 1e-3 (the default),
# 1e-2, 1e-1, each with its stacking table; LoRA and text self-edits once. --save keeps every generator: the 1e-3 one is
# the warm start of gate-test.sh (committed as gen-warm-start/). ~60 min here. From the repository root after
# `npm run build`:   curve.sh OUT
set -eu
O=${1:?usage: curve.sh OUT}
node dist/app/experiments/delta-mode.js --people 16 --split val --optimizers direct --magnitudes 0,1e-3,1e-2,1e-1 \
  --locality-people all --locality-loss soft --fast-gate --stack --save "$O/gens" --out "$O/out" > "$O/log" 2>&1
