#!/bin/bash
# Val-only choice of the ReST-EM selection rule for #15 (session 8).
set -e
cd /tmp/s8/wt
O=/tmp/s8/val
H="node dist/app/experiments/headline.js --split val --runs 1 --people 40 --seeds 2 --rounds 3 --rl-contexts 32 --val-people 24 --workers 2 --select val"
date
$H --out $O/reward-k4 --selection reward --samples 4
date
for v in neutral-k4 neutral-k8; do mkdir -p $O/$v; cp -r $O/reward-k4/baselines $O/$v/; done
$H --out $O/neutral-k4 --selection length-neutral --samples 4
date
$H --out $O/neutral-k8 --selection length-neutral --samples 8
date
