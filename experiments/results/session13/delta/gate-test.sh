#!/usr/bin/env bash
# Issue #18, session 13: the editing table on 40 TEST people, settings chosen on the 16 val people (README.md):
# the write gate learnt again on session 11's gated direct-gradient generator (keys, values and decoder kept, gate
# reset to 0.5) by the direct gradient (soft locality, weight 1, 512 steps × 8 = 4,096 edits), PPO (soft neighbour
# term, weight 3, 4,096 edits) and REINFORCE (weight 1, 4,096 edits), each for seeds 0, 1, 2; LoRA on the passage and
# text self-edits once (seed 0, in the direct run). Run from the repository root after `npm run build`:
#   gate-test.sh OUT GEN   (GEN: session 11's generator, made by session11/delta/stack.sh as O/gen-gate-stack/direct)
set -eu
O=${1:-/tmp/s13/t}
GEN=${2:-/tmp/s11/gen-gate-stack/direct}
mkdir -p "$O"
run() { node dist/app/experiments/delta-mode.js --people 40 --split test --fast-gate --init "$GEN" --reset-gate \
  --locality-people all --locality-loss soft "$@"; }
for seed in 0 1 2; do
  lora=(--skip-lora); [ "$seed" = 0 ] && lora=()
  run --optimizers direct --direct-learn gate --direct-steps 512 --direct-lr 1e-2 --seed $seed "${lora[@]}" \
    --out "$O/direct-s$seed" > "$O/direct-s$seed.log" 2>&1
  run --optimizers ppo --action gate --neighbour-reward 3 --pg-lr 1e-2 --timesteps 4096 --seed $seed --skip-lora \
    --out "$O/ppo-s$seed" > "$O/ppo-s$seed.log" 2>&1
  run --optimizers reinforce --action gate --neighbour-reward 1 --pg-lr 1e-2 --timesteps 4096 --seed $seed --skip-lora \
    --out "$O/reinforce-s$seed" > "$O/reinforce-s$seed.log" 2>&1
done
