#!/bin/bash
# Session 8, #15 on val: the three ReST-EM runs re-evaluated against the fair length-matched baseline, then GRPO.
cd /tmp/s8/wt2
while pgrep -f /tmp/s8/val.sh > /dev/null; do sleep 10; done
O=/tmp/s8/val
H="node dist/app/experiments/headline.js --split val --runs 1 --people 40 --seeds 2 --rounds 3 --rl-contexts 32 --val-people 24 --workers 2 --select val"
date
for v in reward-k4:reward:4 neutral-k4:length-neutral:4 neutral-k8:length-neutral:8; do
  IFS=: read name score k <<< "$v"
  python3 /tmp/s8/refit.py $O/$name $O/$name-fair2
  [ -d $O/reward-k4-fair2/baselines ] && [ $name != reward-k4 ] && rm -rf $O/$name-fair2/baselines && cp -r $O/reward-k4-fair2/baselines $O/$name-fair2/
  $H --out $O/$name-fair2 --score $score --samples $k
  date
done
for v in grpo-reward-k8:reward grpo-neutral-k8:length-neutral; do
  IFS=: read name score <<< "$v"
  mkdir -p $O/$name; cp -r $O/reward-k4-fair2/baselines $O/$name/
  $H --out $O/$name --outer grpo --score $score --samples 8
  date
done
