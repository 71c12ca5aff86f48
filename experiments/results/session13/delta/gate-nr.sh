#!/usr/bin/env bash
# Issue #18, session 13: PPO / REINFORCE over per-token writes (the Bernoulli write gate), warm-started from session
# 11's gated direct-gradient generator with its gate reset to 0.5; the neighbour (locality) reward weight on val.
# `NRS="2 4" gate-nr.sh O` and `NRS=3 gate-nr.sh O` made gate-nr2/3/4. The first run, ppo-gate-a/ (PPO only, weight 1):
#   node dist/app/experiments/delta-mode.js --people 16 --split val --optimizers ppo --action gate --fast-gate \
#     --init /tmp/s11/gen-gate-stack/direct --reset-gate --locality-people all --locality-loss hard \
#     --neighbour-reward 1 --pg-lr 1e-2 --timesteps 4096 --save O/gen-ppo-gate-a --out O/ppo-gate-a
# These runs predate commit "the neighbour (locality) reward takes the direct gradient's two forms": they were made
# with `--locality-loss soft` written, but the policy gradient's neighbour term was then always the hard one (CE to
# the base's answers), and no direct gradient runs here — so with today's code the same runs are made by
# `--locality-loss hard`, as below (their config.json says soft). gate-soft.sh has the soft-term runs.
set -eu
O=${1:-/tmp/s13/d}
for nr in ${NRS:-2 4}; do
  node dist/app/experiments/delta-mode.js --people 16 --split val --optimizers ppo,reinforce --action gate --fast-gate \
    --init /tmp/s11/gen-gate-stack/direct --reset-gate --locality-people all --locality-loss hard \
    --neighbour-reward $nr --pg-lr 1e-2 --timesteps 4096 --save "$O/gen-gate-nr$nr" --out "$O/gate-nr$nr" \
    > "$O/gate-nr$nr.log" 2>&1
done
