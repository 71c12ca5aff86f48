#!/usr/bin/env bash
# Issue #18, the runs that come next (validation people first; test once, with the settings val picks).
# Each direct run takes ~12 min alone on this machine (1,000 steps); run from the repository root after npm run build.
set -eu
O=${1:-/tmp/delta-next}
run() { node dist/app/experiments/delta-mode.js --people 16 --split val "$@"; }
# 1. Locality: key whitening (ROME's C⁻¹k) and more known people per edit, against direct-val16 (retention 65%).
run --optimizers direct --whiten-keys --save "$O/gen-whiten" --out "$O/whiten"
run --optimizers direct --neighbours-per-edit 4 --out "$O/n4"
# 2. The policy gradient that reaches the fast weights: a direct generator with a per-token code, then token PPO and
#    REINFORCE warm-started from it (same generator config: --fast-code 16).
run --optimizers direct --fast-code 16 --save "$O/gen-code16" --out "$O/code16"
run --optimizers ppo,reinforce --action tokens --fast-code 16 --init "$O/gen-code16/direct" --timesteps 2048 \
  --samples-per-context 4 --pg-lr 1e-3 --neighbour-reward 1 --out "$O/pg-warm"
# 3. The trade-off curve (4 magnitude weights) and the stacking table, with the locality setting val picks.
run --optimizers direct --magnitudes 0,1e-3,1e-2,1e-1 --stack --out "$O/tradeoff"
# Then the test table (40 test people): --people 40 --split test with the chosen flags, all optimisers, --stack.
