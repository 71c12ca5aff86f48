#!/usr/bin/env bash
# Issue #18, session 16: PPO on the 40 TEST people, seeds 0, 1, 2, in the setting session 16 chose on val (val40.sh,
# README.md here): session 13's PPO (the write gate re-learnt on the committed warm start by PPO over Bernoulli
# writes, locality weight 3, lr 1e-2 annealed, 4,096 edits, 4 per context, one minibatch) with the 4 edits of a
# drawn context sharing its locality person (--shared-neighbour). The direct-gradient rows it is compared with are
# session 15's test40-stack (the same warm start, people and seeds).
# Run from the repository root after `npm run build`:   [SEEDS="0 1 2"] ppo-test.sh OUT [GEN]
set -eu
O=${1:?usage: ppo-test.sh OUT [GEN]}
GEN=${2:-experiments/results/session15/delta/gen-warm-start}
mkdir -p "$O"
for seed in ${SEEDS:-0 1 2}; do
  node dist/app/experiments/delta-mode.js --people 40 --split test --fast-gate --init "$GEN" --reset-gate \
    --locality-people all --locality-loss soft --optimizers ppo --action gate --neighbour-reward 3 --pg-lr 1e-2 \
    --timesteps 4096 --shared-neighbour --seed $seed --skip-lora --out "$O/ppo-s$seed" > "$O/ppo-s$seed.log" 2>&1
done
