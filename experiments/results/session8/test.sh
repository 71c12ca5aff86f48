#!/bin/bash
# Session 8, #15: the one test-split run of the setting chosen on val.
set -e
cd /tmp/s8/wt2
date
node dist/app/experiments/headline.js --out /tmp/s8/test/$1 --runs 3 --people 40 --seeds 3 --rounds 3 --rl-contexts 32 --val-people 24 --workers 2 --select val "${@:2}"
date
