#!/usr/bin/env bash
# Issue #18, session 15 (val only): does PPO's edit do better written at the gate's mode (σ > ½: the 0/1 writes it
# is trained on) than at its probability (what session 13's test table measured)? Session 13's PPO settings on the 16
# val people (gate reset on the warm start, 4,096 edits, pg-lr 1e-2, soft locality at weight NR); every run reports
# delta_<optimizer> (probability) and delta_<optimizer>_mode. From the repository root after `npm run build`:
#   NR=3 OPTS=ppo [ACTION=gate|gate-logit] [SEED=0] ppo-val.sh OUT [GEN]
# (ACTION=gate-logit: the Gaussian over gate logits, whose mean action is the evaluated edit.)
set -eu
O=${1:?usage: ppo-val.sh OUT [GEN]}
GEN=${2:-experiments/results/session15/delta/gen-warm-start}
mkdir -p "$O"
node dist/app/experiments/delta-mode.js --people 16 --split val --optimizers ${OPTS:-ppo} --action ${ACTION:-gate} --fast-gate \
  --init "$GEN" --reset-gate --locality-people all --locality-loss soft --neighbour-reward ${NR:-3} --pg-lr 1e-2 \
  --timesteps 4096 --seed ${SEED:-0} --skip-lora --out "$O/${OPTS:-ppo}-${ACTION:-gate}-soft${NR:-3}-s${SEED:-0}" \
  > "$O/${OPTS:-ppo}-${ACTION:-gate}-soft${NR:-3}-s${SEED:-0}.log" 2>&1
