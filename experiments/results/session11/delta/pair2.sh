#!/usr/bin/env bash
# Issue #18, session 11, after pair1.sh: neither whitening (retention 50.8%) nor the 150-person pool (65.1%) kept
# the known people's answers; the generator spares the people its locality term reads (diag.mjs: 88–96% retained
# there) but not others. So: a pool it cannot learn person by person (all: 2,150 people), at two locality weights.
set -eu
O=${1:-/tmp/s11}
run() { node dist/app/experiments/delta-mode.js --people 16 --split val --optimizers direct "$@"; }
run --locality-people all --save "$O/gen-all" --out "$O/all" > "$O/all.log" 2>&1 &
run --locality-people all --neighbour-kl 4 --save "$O/gen-all-kl4" --out "$O/all-kl4" > "$O/all-kl4.log" 2>&1 &
wait
