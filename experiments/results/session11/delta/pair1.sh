#!/usr/bin/env bash
# Issue #18, session 11: locality settings on 16 val people, two direct-gradient runs side by side (each ~25 min
# on the two cores together). Run from the repository root after npm run build; OUT defaults to /tmp/s11.
set -eu
O=${1:-/tmp/s11}
run() { node dist/app/experiments/delta-mode.js --people 16 --split val --optimizers direct "$@"; }
run --whiten-keys --save "$O/gen-whiten" --out "$O/whiten" > "$O/whiten.log" 2>&1 &
run --locality-people pretrain --neighbours-per-edit 4 --save "$O/gen-wide4" --out "$O/wide4" > "$O/wide4.log" 2>&1 &
wait
