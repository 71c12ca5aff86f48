# usage: extend.py SRC DST ROUNDS — a copy of a one-run val headline directory whose RL run continues to ROUNDS
# rounds when the headline command is rerun on DST with --rounds ROUNDS (it resumes from the last round checkpoint):
# drops the SEAL and length-matched rows (re-evaluated on the policy the val monitor then picks) and records the
# new round count in the run's config.
import json, os, shutil, sys
src, dst, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
shutil.copytree(src, dst)
run = os.path.join(dst, 'run-0')
drop = ('seal', 'base_selfedits_matched')
def keep(line):
    r = json.loads(line)
    return not (r.get('condition') in drop or (r.get('kind') == 'condition' and r.get('name') in drop))
p = os.path.join(run, 'results.jsonl')
rows = [l for l in open(p) if keep(l)]
open(p, 'w').writelines(rows)
c = json.load(open(os.path.join(run, 'config.json')))
c['config']['headline']['rounds'] = rounds
c['config']['outer']['rounds'] = rounds
json.dump(c, open(os.path.join(run, 'config.json'), 'w'), indent=2)
for f in ('summary.json', 'table.txt'):
    q = os.path.join(run, f)
    if os.path.exists(q): os.remove(q)
if os.path.exists(os.path.join(dst, 'headline.json')): os.remove(os.path.join(dst, 'headline.json'))
