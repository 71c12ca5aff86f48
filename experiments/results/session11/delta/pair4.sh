#!/usr/bin/env bash
# Issue #18, session 11, after pair3.sh: the soft locality loss on the 2,150-person pool kept 93.0% with ES 40.4% and
# drawdown +0.008; the per-token code (--fast-code 16) cost ES (26.3%) and retention (81.3%). Next: the learned write
# gate on the soft setting, and PPO / REINFORCE over the per-token codes warm-started from the code-16 generator
# (2,048 edits each; compare with that generator's own direct-gradient row).
set -eu
O=${1:-/tmp/s11}
run() { node dist/app/experiments/delta-mode.js --people 16 --split val --locality-people all --locality-loss soft "$@"; }
run --optimizers direct --fast-gate --save "$O/gen-soft-gate" --out "$O/soft-gate" > "$O/soft-gate.log" 2>&1 &
run --optimizers ppo,reinforce --action tokens --fast-code 16 --init "$O/gen-soft-code16/direct" --timesteps 2048 \
  --samples-per-context 4 --pg-lr 1e-3 --neighbour-reward 1 --out "$O/pg-warm" > "$O/pg-warm.log" 2>&1 &
wait
