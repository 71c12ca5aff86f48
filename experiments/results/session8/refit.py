import json, os, shutil, sys
src, dst = sys.argv[1], sys.argv[2]
shutil.copytree(src, dst)
for root, _, files in os.walk(dst):
    for f in files:
        if f in ('config.json', 'state.json'):
            p = os.path.join(root, f); t = open(p).read()
            if '"selection"' in t:
                open(p, 'w').write(t.replace('"selection"', '"score"'))
p = os.path.join(dst, 'run-0', 'results.jsonl')
rows = [l for l in open(p) if not (('"condition":"base_selfedits_matched"' in l) or ('"name":"base_selfedits_matched"' in l))]
open(p, 'w').writelines(rows)
for f in ('summary.json', 'table.txt'):
    q = os.path.join(dst, 'run-0', f)
    if os.path.exists(q): os.remove(q)
