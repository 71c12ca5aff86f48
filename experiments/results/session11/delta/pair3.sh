#!/usr/bin/env bash
# Issue #18, session 11, after pair2.sh: the 2,150-person pool kept 88.8% (ES 44.5%); four times its weight kept 95.8%
# but ES fell to 2.1% (the hard labels' floor on the base's guesses dominates). So the soft locality loss (KL to the
# base), alone and with the per-token code that the policy-gradient learners sample (--fast-code 16, saved for --init).
set -eu
O=${1:-/tmp/s11}
run() { node dist/app/experiments/delta-mode.js --people 16 --split val --optimizers direct --locality-people all --locality-loss soft "$@"; }
run --save "$O/gen-soft" --out "$O/soft" > "$O/soft.log" 2>&1 &
run --fast-code 16 --save "$O/gen-soft-code16" --out "$O/soft-code16" > "$O/soft-code16.log" 2>&1 &
wait
