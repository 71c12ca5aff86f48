#!/usr/bin/env bash
# Issue #18, session 13: PPO / REINFORCE over per-token writes on the direct gradient's own objective: the soft
# locality term (KL at the answer positions of one of the 2,150 locality people per edit) at weight 1, the magnitude
# penalty 1e-3; the same warm start (gate reset), the same 4,096 edits as gate-direct.sh.
set -eu
O=${1:-/tmp/s13/d}
node dist/app/experiments/delta-mode.js --people 16 --split val --optimizers ${OPTS:-ppo,reinforce} --action gate --fast-gate \
  --init /tmp/s11/gen-gate-stack/direct --reset-gate --locality-people all --locality-loss soft \
  --neighbour-reward ${NR:-1} --pg-lr 1e-2 --timesteps 4096 --save "$O/gen-gate-soft${NR:-1}" --out "$O/gate-soft${NR:-1}" \
  > "$O/gate-soft${NR:-1}.log" 2>&1
