#!/usr/bin/env bash
# Issue #18, session 15 (val only): the gate re-learnt on the warm start, on all 40 val people (session 13 chose on
# 16), for a less noisy PPO-vs-direct comparison. KIND=ppo: PPO over Bernoulli writes at learning rate LR (session 13:
# 1e-2, whose updates stay far inside the trust region: approx-KL ≤ 0.005 against the 0.05 target, clip fraction ≤ 3%,
# and ~0 once the linearly annealed rate is small), locality weight NR (3). KIND=direct: session 13's direct setting.
# SPC: PPO's edits sampled per drawn context (4; the same 4,096 edits in all).
# From the repository root after `npm run build`:   KIND=ppo|direct [LR=1e-2] [NR=3] [SPC=4] [SEED=0] val40.sh OUT [GEN]
set -eu
O=${1:?usage: val40.sh OUT [GEN]}
GEN=${2:-experiments/results/session15/delta/gen-warm-start}
mkdir -p "$O"
run() { node dist/app/experiments/delta-mode.js --people 40 --split val --fast-gate --init "$GEN" --reset-gate \
  --locality-people all --locality-loss soft --seed ${SEED:-0} --skip-lora "$@"; }
case ${KIND:-ppo} in
  ppo) name="ppo-lr${LR:-1e-2}-soft${NR:-3}${SPC:+-spc$SPC}-s${SEED:-0}"
       run --optimizers ppo --action gate --neighbour-reward ${NR:-3} --pg-lr ${LR:-1e-2} --timesteps 4096 \
         --samples-per-context ${SPC:-4} --out "$O/$name" > "$O/$name.log" 2>&1 ;;
  direct) run --optimizers direct --direct-learn gate --direct-steps 512 --direct-lr 1e-2 \
         --out "$O/direct-s${SEED:-0}" > "$O/direct-s${SEED:-0}.log" 2>&1 ;;
  *) echo "KIND: ppo or direct" >&2; exit 2 ;;
esac
