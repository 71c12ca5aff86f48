#!/usr/bin/env bash
# Issue #14: one line per reproduction (exit code + first stderr line). Before: experiments/results/session5/hostile-repro-before.txt (commit 77c2610); after: hostile-repro-after.txt.
# Run from the project root after `npm run build`: bash experiments/results/session5/hostile-repro.sh (SEAL_CLI=dist/cli/main.js for a pre-#13 build).
# One line per defect of issue #14: exit code + first stderr line. Run from the project root.
S="node ${SEAL_CLI:-dist/app/cli/main.js}"
T=$(mktemp -d)
M=assets/models/people-default
line() { local name="$1"; shift; local out; out=$("$@" 2>&1 >/dev/null | head -c 600 | tr '\n' ' ' | cut -c1-220); local rc=${PIPESTATUS[0]}; echo "$name | rc=$rc | $out"; }
run() { local name="$1"; shift; "$@" >$T/out 2>$T/err; local rc=$?; echo "$name | rc=$rc | stdout=$(head -c 60 $T/out | tr '\n' ' ') | $(head -c 400 $T/err | tr '\n' ' ' | cut -c1-230)"; }
echo "Ann Lee was born on 3 May 1980 in Boston, MA. She studied Biology at MIT and works for Google in Mountain View, CA." > $T/bio.txt
# 1 misaligned safetensors
cp -r $M $T/pad; python3 - "$T/pad/model.safetensors" <<'P'
import struct,sys
f=sys.argv[1]; b=open(f,'rb').read(); n=struct.unpack('<Q',b[:8])[0]
open(f,'wb').write(struct.pack('<Q',n+1)+b[8:8+n]+b' '+b[8+n:])
P
run "1 misaligned" $S ask --model $T/pad --question "Where was Ann Lee born?"
# 2 --overwrite on a foreign dir (copy of src)
cp -r src/app $T/src; echo sentinel > $T/src/SENTINEL
run "2 --out src-copy --overwrite" $S adapt --passage $T/bio.txt --out $T/src --overwrite --epochs 1
echo "   sentinel: $(cat $T/src/SENTINEL 2>&1)"
# 3 convert HF->HF in place
cp -r $M $T/conv
run "3 convert in place" $S convert --from $T/conv --out $T/conv --overwrite
echo "   files: $(ls $T/conv | tr '\n' ' ')"
# 4 unknown config keys
echo '{"outer":{"kind":"rest-em","roundz":3}}' > $T/typo.json
run "4a roundz" timeout 20 $S train --config $T/typo.json --out $T/runs4
echo '{"outer":{"kind":"rest-em","lr":-1}}' > $T/lr.json
run "4b rest-em lr" timeout 20 $S train --config $T/lr.json --out $T/runs4
echo '{"steps":2}' > $T/pt.json
run "4c pretrain steps top" timeout 20 $S pretrain --config $T/pt.json --out $T/pt4
# 5 long input
python3 -c "print('Once upon a time '*6000)" > $T/long.txt
run "5a 100KB prompt" timeout 60 $S generate --model $M --prompt "$(cat $T/long.txt)" --max-new-tokens 5
python3 -c "print('Ann Lee was born in Boston. '*180)" > $T/p5k.txt
run "5b 5KB passage" timeout 60 $S adapt --passage $T/p5k.txt --out $T/a5 --epochs 1
echo "   out exists: $(ls $T/a5 2>&1 | tr '\n' ' ')"
# 6 limits
head -c 50000000 /dev/zero | tr '\0' 'a' > $T/big.txt
run "6a 50MB passage" timeout 60 $S adapt --passage $T/big.txt --out $T/a6
run "6b rank 100000" timeout 60 $S adapt --passage $T/bio.txt --out $T/a6b --rank 100000
echo '{"outer":{"kind":"rest-em","samplesPerContext":1000000000}}' > $T/s.json
run "6c samples 1e9" timeout 60 $S train --config $T/s.json --out $T/runs6
echo '{"model":{"dim":5120,"nLayers":40,"nHeads":40,"hiddenDim":13824}}' > $T/13b.json
run "6d 13B pretrain" timeout 60 $S pretrain --config $T/13b.json --out $T/pt6
# 7 internal errors
mkdir -p $T/r7; echo '{"version":"0.1.0","config":[' > $T/r7/config.json
run "7a train --resume bad config" $S train --resume $T/r7
run "7b demo --resume bad config" $S demo --resume $T/r7
touch $T/file7
run "7c adapt --out FILE" $S adapt --passage $T/bio.txt --out $T/file7
run "7d convert --out FILE" $S convert --from $M --out $T/file7
run "7e demo --out FILE" timeout 60 $S demo --quick --out $T/file7
run "7f --out ''" $S adapt --passage $T/bio.txt --out ''
run "7g read-only out" $S adapt --passage $T/bio.txt --out /proc/seal-out
run "7h runs FILE" $S runs $T/file7
run "7i info tensorflow" $S info --backend tensorflow
run "7j pretrain dim 1e9" timeout 60 $S pretrain --dim 1000000000 --out $T/pt7
# 8 closed stdout
echo "8a | $( ($S generate --model $M --max-new-tokens 50 --temperature 0 | head -c 5) 2>&1 >/dev/null | head -c 200 | tr '\n' ' ') rc=${PIPESTATUS[0]}"
$S generate --model $M --max-new-tokens 20 --temperature 0 > /dev/full 2>$T/err8; echo "8b /dev/full | rc=$? | $(head -c 200 $T/err8 | tr '\n' ' ')"
# 9 failed runs leave dir
run "9a train bad model" $S train --config <(echo '{"model":"/nope"}') --out $T/runs9
run "9b eval --policy /nope" timeout 120 $S eval --policy /nope --out $T/runs9 --contexts 1 --seeds 1
echo "   runs9: $(ls $T/runs9 2>&1 | tr '\n' ' ')"
# 10 NaN weights
cp -r $M $T/nan; python3 - "$T/nan/model.safetensors" <<'P'
import struct,sys,json
f=sys.argv[1]; b=bytearray(open(f,'rb').read()); n=struct.unpack('<Q',b[:8])[0]
b[8+n:8+n+4]=struct.pack('<f',float('nan')); open(f,'wb').write(b)
P
run "10 NaN model" $S ask --model $T/nan --question "Where was Ann Lee born?"
# 11 --out checked late
mkdir -p $T/full11; echo x > $T/full11/x
/usr/bin/time -f "%e s" -o $T/t11 $S adapt --passage $T/bio.txt --out $T/full11 >/dev/null 2>$T/e11; echo "11 nonempty out | $(head -c 200 $T/e11 | tr '\n' ' ') | $(cat $T/t11)"
# 12 late values
run "12a world 1e9" $S world --pretrain-people 1000000000 --out $T/w12
run "12b pretrain dim 130" timeout 60 $S pretrain --dim 130 --out $T/pt12
echo '{"rlPeople":1000000000}' > $T/rl.json
run "12c rlPeople 1e9" timeout 60 $S train --config $T/rl.json --out $T/runs12
# 13
run "13 policy-only no policy" timeout 60 $S eval --policy-only --out $T/runs13
# 14 misleading
run "14a missing x.bin" $S generate --model $T/x.bin
run "14b ask --adapter FILE" $S ask --adapter $T/file7 --question "Where?"
mkdir -p $T/et; cp $M/config.json $M/model.safetensors $T/et/; : > $T/et/tokenizer.json
run "14c empty tokenizer" $S generate --model $T/et
run "14d pretrain --resume missing" timeout 30 $S pretrain --resume --out $T/nothing
run "14e runs missing root" $S runs $T/nothing
mkdir -p $T/rootm; cp -r $M $T/rootm/
run "14f runs lists models" $S runs $T/rootm
run "14g eval contexts 1e6" timeout 60 $S eval --contexts 1000000 --out $T/runs14
mkdir -p $T/ad; $S adapt --passage $T/bio.txt --out $T/ad/a --epochs 1 >/dev/null 2>&1; python3 - $T/ad/a/adapter_config.json <<'P'
import json,sys; f=sys.argv[1]; c=json.load(open(f)); c['target_modules']=['q_proj']; json.dump(c,open(f,'w'))
P
run "14h adapter target_modules mismatch" $S ask --adapter $T/ad/a --question "Where was Ann Lee born?"
rm -rf $T
