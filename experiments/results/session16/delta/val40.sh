#!/usr/bin/env bash
# Issue #18, session 16 (val only): session 15's val40.sh (the gate re-learnt on the committed warm start, 40 val
# people) with PPO's step count per batch made explicit: MB minibatches per epoch (one Adam step each; session 13/15
# ran 1), and CONST=1 for a constant learning rate (session 13/15 annealed it linearly to 0, which left the last
# third of the updates with approx-KL ~0 while the training reward was still rising), SHARED=1: the 4 edits of a
# drawn context share its locality person (common random numbers; session 13/15 drew one per edit). TS: PPO's edits
# in all (4,096); DSTEPS: the direct gradient's steps of 8 edits (512, the same 4,096 edits).
# From the repository root after `npm run build`:
#   KIND=ppo|direct [LR=1e-2] [NR=3] [MB=1] [CONST=0] [SHARED=0] [TS=4096] [DSTEPS=512] [SEED=0] val40.sh OUT [GEN]
set -eu
O=${1:?usage: val40.sh OUT [GEN]}
GEN=${2:-experiments/results/session15/delta/gen-warm-start}
mkdir -p "$O"
run() { node dist/app/experiments/delta-mode.js --people 40 --split val --fast-gate --init "$GEN" --reset-gate \
  --locality-people all --locality-loss soft --seed ${SEED:-0} --skip-lora "$@"; }
case ${KIND:-ppo} in
  ppo) c=(); suffix=""
       if [ "${CONST:-0}" = 1 ]; then c=(--constant-lr); suffix=-const; fi
       if [ "${SHARED:-0}" = 1 ]; then c+=(--shared-neighbour); suffix=$suffix-shared; fi
       if [ "${TS:-4096}" != 4096 ]; then suffix=$suffix-ts$TS; fi
       name="ppo-lr${LR:-1e-2}-soft${NR:-3}-mb${MB:-1}$suffix-s${SEED:-0}"
       run --optimizers ppo --action gate --neighbour-reward ${NR:-3} --pg-lr ${LR:-1e-2} --timesteps ${TS:-4096} \
         --samples-per-context 4 --minibatches ${MB:-1} "${c[@]}" --out "$O/$name" > "$O/$name.log" 2>&1 ;;
  direct) name="direct$([ "${DSTEPS:-512}" != 512 ] && echo "-steps$DSTEPS" || true)-s${SEED:-0}"
         run --optimizers direct --direct-learn gate --direct-steps ${DSTEPS:-512} --direct-lr 1e-2 \
         --out "$O/$name" > "$O/$name.log" 2>&1 ;;
  *) echo "KIND: ppo or direct" >&2; exit 2 ;;
esac
