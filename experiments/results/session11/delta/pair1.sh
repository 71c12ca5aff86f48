#!/usr/bin/env bash
# Issue #18, session 11: locality settings on 16 val people, two direct-gradient runs side by side (each ~25 min
# on the two cores together). Run from the repository root after npm run build; OUT defaults to /tmp/s11.
set -eu
O=${1:-/tmp/s11}
run() { node dist/app/experiments/delta-mode.js --people 16 --split val --optimizers direct "$@"; }
run --whiten-keys --save "$O/gen-whiten" --out "$O/whiten" > "$O/whiten.log" 2>&1 &
# (A four-neighbour run, --neighbours-per-edit 4, was stopped at step 24: 0.28 steps/s beside the other, about an hour.)
run --locality-people pretrain --save "$O/gen-wide" --out "$O/wide" > "$O/wide.log" 2>&1 &
wait
