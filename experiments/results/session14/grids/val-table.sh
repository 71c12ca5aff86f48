#!/usr/bin/env bash
# Issue #16, session 14: the grid table on the 32 held-out-family VAL tasks (choices, not the final table) with the
# bundled model, ReST-EM under each keep rule. Run from the repository root after `npm run build`:
#   val-table.sh OUT [MODEL]
# OUT/solved: SEAL's ARC rule (keep every recipe that solved its RL task), 2 rounds × 32 RL tasks × 8 recipes;
# OUT/beats:  the rule of session 13 (keep only the best recipe of a task, if in-context learning fails it), same budget;
# OUT/grpo:   GRPO over recipes (--grpo-lr 1e-4), same rollouts;
# OUT/solved-greedy: OUT/solved's policies (its RL run is reused: its checkpoints) with every evaluated recipe greedy.
# The conditions without RL (in context, base recipes, best fixed, oracle) do not depend on the keep rule: the second
# table reuses the first one's files (identical computations: same model, tasks, seeds and recipe space).
set -eu
O=${1:?OUT}
M=${2:-default}
common=(--model "$M" --split val --runs 1 --tasks 32 --seeds 1 --rounds 2 --rl-contexts 32 --samples 8 --space 64
  --workers 2)
mkdir -p "$O"
node dist/app/experiments/grids-table.js "${common[@]}" --out "$O/solved" --keep solved > "$O/solved.log" 2>&1
mkdir -p "$O/solved-greedy/table"
cp -r "$O/solved/fixed" "$O/solved/run-0" "$O/solved-greedy/"
for c in in_context best_fixed oracle; do cp "$O/solved/table/$c.jsonl" "$O/solved-greedy/table/"; done
node dist/app/experiments/grids-table.js "${common[@]}" --out "$O/solved-greedy" --keep solved --eval-temperature 0 \
  > "$O/solved-greedy.log" 2>&1
mkdir -p "$O/grpo/table"
cp -r "$O/solved/fixed" "$O/grpo/"
for c in in_context base_recipes best_fixed oracle; do cp "$O/solved/table/$c.jsonl" "$O/grpo/table/"; done
node dist/app/experiments/grids-table.js "${common[@]}" --out "$O/grpo" --outer grpo > "$O/grpo.log" 2>&1
mkdir -p "$O/beats/table"
cp -r "$O/solved/fixed" "$O/beats/"
for c in in_context base_recipes best_fixed oracle; do cp "$O/solved/table/$c.jsonl" "$O/beats/table/"; done
node dist/app/experiments/grids-table.js "${common[@]}" --out "$O/beats" --keep beats-in-context --keep-per-task 1 > "$O/beats.log" 2>&1
# Added after the first four: every solving recipe, but only on RL tasks in-context learning fails (OUT/beats8), and
# its policy evaluated greedily (OUT/beats8-greedy, reusing OUT/beats8's RL run and OUT/solved-greedy's base rows).
mkdir -p "$O/beats8/table"
cp -r "$O/solved/fixed" "$O/beats8/"
for c in in_context base_recipes best_fixed oracle; do cp "$O/solved/table/$c.jsonl" "$O/beats8/table/"; done
node dist/app/experiments/grids-table.js "${common[@]}" --out "$O/beats8" --keep beats-in-context --keep-per-task 8 \
  > "$O/beats8.log" 2>&1
mkdir -p "$O/beats8-greedy/table"
cp -r "$O/beats8/fixed" "$O/beats8/run-0" "$O/beats8-greedy/"
for c in in_context best_fixed oracle; do cp "$O/solved/table/$c.jsonl" "$O/beats8-greedy/table/"; done
cp "$O/solved-greedy/table/base_recipes.jsonl" "$O/beats8-greedy/table/"
node dist/app/experiments/grids-table.js "${common[@]}" --out "$O/beats8-greedy" --keep beats-in-context \
  --keep-per-task 8 --eval-temperature 0 > "$O/beats8-greedy.log" 2>&1
