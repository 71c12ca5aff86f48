#!/usr/bin/env bash
# Issue #18, session 15: session 13's test table again (gate-test.sh: 40 TEST people, seeds 0, 1, 2; the write gate
# learnt again on the warm start by the direct gradient, PPO and REINFORCE, settings chosen on val in session 13), now
# with (a) the stacking table on every direct-gradient run — summed and routed edits (seal/delta/route.ts), LoRA on the
# concatenated passages and text self-edits once (seed 0) — and (b) every gated condition also written at the gate's
# mode (`delta_<optimizer>_mode`). The warm start is `gen-warm-start/` (session 11's gated direct-gradient setting,
# remade by this session's trade-off-curve run, `curve.sh`). OPTS / SEEDS choose the optimizers and seeds (session 15
# ran OPTS=direct: the PPO and REINFORCE test rows of session 13 come from the same warm start and settings).
# Run from the repository root after `npm run build`:   [OPTS="direct ppo reinforce"] [SEEDS="0 1 2"] gate-test.sh OUT [GEN]
set -eu
O=${1:?usage: gate-test.sh OUT [GEN]}
GEN=${2:-experiments/results/session15/delta/gen-warm-start}
mkdir -p "$O"
run() { node dist/app/experiments/delta-mode.js --people 40 --split test --fast-gate --init "$GEN" --reset-gate \
  --locality-people all --locality-loss soft "$@"; }
for seed in ${SEEDS:-0 1 2}; do
  for opt in ${OPTS:-direct ppo reinforce}; do
    case $opt in
      direct)
        lora=(--skip-lora); [ "$seed" = 0 ] && lora=()
        run --optimizers direct --direct-learn gate --direct-steps 512 --direct-lr 1e-2 --seed $seed --stack "${lora[@]}" \
          --out "$O/direct-s$seed" > "$O/direct-s$seed.log" 2>&1 ;;
      ppo)
        run --optimizers ppo --action gate --neighbour-reward 3 --pg-lr 1e-2 --timesteps 4096 --seed $seed --skip-lora \
          --out "$O/ppo-s$seed" > "$O/ppo-s$seed.log" 2>&1 ;;
      reinforce)
        run --optimizers reinforce --action gate --neighbour-reward 1 --pg-lr 1e-2 --timesteps 4096 --seed $seed \
          --skip-lora --out "$O/reinforce-s$seed" > "$O/reinforce-s$seed.log" 2>&1 ;;
      *) echo "unknown optimizer $opt" >&2; exit 2 ;;
    esac
  done
done
