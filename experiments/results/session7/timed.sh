#!/usr/bin/env bash
# usage: timed.sh NAME CMD...   → $D/NAME.log (output), $D/NAME.time (wall, our CPU, others' CPU incl. niced);
# D = $TIMED_DIR, default /tmp/s7
D=${TIMED_DIR:-/tmp/s7}
name=$1; shift
read -r _ u n s i w q sq st _ < /proc/stat; b0=$((u+n+s+q+sq+st)); n0=$n; t0=$(date +%s.%N)
/usr/bin/time -f "%e %U %S" -o $D/$name.rtime "$@" > $D/$name.log 2>&1
rc=$?
read -r _ u n s i w q sq st _ < /proc/stat; b1=$((u+n+s+q+sq+st)); n1=$n; t1=$(date +%s.%N)
read -r e U S < $D/$name.rtime
python3 - "$name" "$rc" "$t0" "$t1" "$b0" "$b1" "$n0" "$n1" "$U" "$S" <<'PY' > $D/$name.time
import sys, json, os
name, rc, t0, t1, b0, b1, n0, n1, U, S = sys.argv[1:]
wall = float(t1) - float(t0); hz = os.sysconf('SC_CLK_TCK')
busy = (int(b1) - int(b0)) / hz; niced = (int(n1) - int(n0)) / hz; ours = float(U) + float(S)
print(json.dumps({'name': name, 'rc': int(rc), 'wall_s': round(wall, 1), 'our_cpu_s': round(ours, 1),
  'our_cores': round(ours / wall, 2), 'others_cores': round((busy - ours) / wall, 2), 'niced_cores': round(niced / wall, 2)}))
PY
cat $D/$name.time
