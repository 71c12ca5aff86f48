#!/usr/bin/env bash
# #19 checks 3, 5, 6 on a clean clone built without OpenBLAS (SEAL_BLAS=none): npm ci, seal info, npm start
# (workers default = 2), seal demo --workers 1, and seal demo with `yes > /dev/null` in the same cgroup.
# Run as: ../session7/ingroup.sh s9 bash checks19.sh COMMIT   (cgroup s9 has cpu.shares 262144, see ingroup.sh)
set -u
here=$(cd "$(dirname "$0")" && pwd)
export TIMED_DIR=/tmp/s9
rm -rf /tmp/s9/nb && git clone -q /work/main /tmp/s9/nb && cd /tmp/s9/nb && git checkout -q "$1"
export SEAL_BLAS=none
bash "$here/../session7/timed.sh" npmci npm ci
node dist/app/cli/main.js info > /tmp/s9/info.log 2>&1
bash "$here/../session7/timed.sh" start npm start
bash "$here/../session7/timed.sh" w1 node dist/app/cli/main.js demo --workers 1 --out runs-w1
yes > /dev/null &
y=$!
bash "$here/../session7/timed.sh" load node dist/app/cli/main.js demo --out runs-load
kill $y
echo done > /tmp/s9/checks19.done
