#!/bin/bash
# Session 9, #15 on val people: stronger ReST-EM distillation (SFT passes per round), same protocol as session 8's
# val runs (one RL run, 3 rounds × 32 contexts × k = 8, length-neutral score, round chosen by the val monitor, table on
# 40 val people × 2 seeds); the baselines are session 8's val baselines (same code path, same seeds).
# usage: val.sh NAME [headline options…]   (run from a worktree at commit d13ea7f or later)
set -e
O=/tmp/s9/val
mkdir -p $O/$1
[ -d $O/$1/baselines ] || cp -r /work/main/experiments/results/session8/val/neutral-k8-fair2/baselines $O/$1/
date
node dist/app/experiments/headline.js --split val --runs 1 --people 40 --seeds 2 --rounds 3 --rl-contexts 32 \
  --val-people 24 --workers 2 --select val --score length-neutral --samples 8 --out $O/$1 "${@:2}"
date
