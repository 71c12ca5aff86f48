#!/usr/bin/env bash
# Issue #16, session 13: the grid table on the 32 held-out-family VAL tasks with the 24,000-step model (choices, not
# the final table): in context / base recipes / best fixed recipe (swept over the first 16 recipes of the space) /
# oracle / SEAL (one ReST-EM run of 2 rounds × 16 RL tasks × 8 recipes). Run from the repository root after
# `npm run build`: val-table.sh MODEL OUT
set -eu
M=${1:-/work/grids-runs/gp1-24k/model}
O=${2:-/tmp/s13/grids-val}
while pgrep -f gate-test.sh > /dev/null; do sleep 20; done
node dist/app/experiments/grids-table.js --model "$M" --out "$O" --split val --runs 1 --tasks 32 --seeds 1 \
  --rounds 2 --space 16 --workers 2 > "$O.log" 2>&1
