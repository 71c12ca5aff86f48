#!/usr/bin/env bash
# Issue #18, session 13: do re-learnt gates stack better? The stacking table (1 … 16 val people's edits summed, and the
# least-squares composition at μ = 0) of the val runs' generators: the direct gradient's gate (gate-direct.sh) and
# PPO's (gate-soft.sh, NR=3). Run from the repository root after `npm run build`; O holds the saved generators.
set -eu
O=${1:-/tmp/s13/d}
node dist/app/experiments/delta-stack.js --generator "$O/gen-gate-direct/direct" --people 16 --split val --mus 0 \
  --out "$O/stack-gate-direct" > "$O/stack-gate-direct.log" 2>&1
node dist/app/experiments/delta-stack.js --generator "$O/gen-gate-soft3/ppo" --people 16 --split val --mus 0 \
  --out "$O/stack-gate-ppo3" > "$O/stack-gate-ppo3.log" 2>&1
