#!/usr/bin/env bash
# Issue #16, session 17: the grid table on the 32 held-out-family VAL tasks (choices, not the final table) with the
# grid model pretrained on the wide recipe space (`seal pretrain --domain grids --recipe-space wide`), the whole
# space of 88 recipes swept (no --space: the model's manifest names it). Run from the repository root after
# `npm run build`:
#   val-wide.sh OUT MODEL
# OUT/solved: ReST-EM with SEAL's ARC rule (keep every recipe that solved its RL task), 2 rounds × 32 RL tasks × 8
#   recipes, recipes evaluated at T = 1;
# OUT/solved-greedy: OUT/solved's policies (its RL run reused: its checkpoints) with every evaluated recipe greedy
#   (session 14's best variant on the default space). The conditions without RL (in context, best fixed, oracle) do
#   not depend on the temperature and are copied (identical computations).
set -eu
O=${1:?OUT}
M=${2:?MODEL}
common=(--model "$M" --split val --runs 1 --tasks 32 --seeds 1 --rounds 2 --rl-contexts 32 --samples 8 --workers 2
  --keep solved)
mkdir -p "$O"
node dist/app/experiments/grids-table.js "${common[@]}" --out "$O/solved" > "$O/solved.log" 2>&1
mkdir -p "$O/solved-greedy/table"
cp -r "$O/solved/fixed" "$O/solved/run-0" "$O/solved-greedy/"
for c in in_context best_fixed oracle; do cp "$O/solved/table/$c.jsonl" "$O/solved-greedy/table/"; done
node dist/app/experiments/grids-table.js "${common[@]}" --out "$O/solved-greedy" --eval-temperature 0 \
  > "$O/solved-greedy.log" 2>&1
