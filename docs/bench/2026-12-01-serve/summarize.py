import re, sys, glob, statistics as st, os
rows = []
for d in sys.argv[1:]:
    for f in sorted(glob.glob(f"{d}/*_*.txt")):
        t = open(f).read()
        head = t.splitlines()[0].split()
        side, size, i, commit = head[1], head[2], head[3], head[4]
        start = head[6]; load = head[8]
        c = {}
        for m in re.finditer(r"^\| (1|8) \| (\d+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$", t, re.M):
            c[m.group(1)] = (float(m.group(3)), float(m.group(4)), float(m.group(5)))
        mm = re.search(r"median ([\d.]+) ms over", t)
        if '1' not in c or not mm: continue
        rows.append(dict(set=os.path.basename(d), side=side, size=size, i=i, commit=commit, start=start, load=load,
                         c1=c['1'], c8=c['8'], model=float(mm.group(1))))
rows.sort(key=lambda r: (r['set'], r['start']))
print("| set | start (UTC) | 1-min load | side | commit | PNG | model calls alone ms | c=1 p50 | c=1 p99 | c=8 p50 | c=8 p99 | c=8 req/s |")
print("|---|---|---:|---|---|---|---:|---:|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r['set']} | {r['start']} | {r['load']} | {r['side']} | {r['commit']} | {r['size']} | {r['model']:.1f} | {r['c1'][0]:.1f} | {r['c1'][1]:.1f} | {r['c8'][0]:.1f} | {r['c8'][1]:.1f} | {r['c8'][2]:.1f} |")
quiet = float(os.environ.get("QUIET_MODEL_MS", "15"))
print()
print(f"Medians over the runs whose model calls alone took under {quiet:g} ms (an uncontended machine):")
print()
print("| side | PNG | runs | c=1 p50 | c=1 p99 | c=8 p50 | c=8 p99 |")
print("|---|---|---:|---:|---:|---:|---:|")
for size in ["64x48", "451x300"]:
    for side in ["before", "after"]:
        rs = [r for r in rows if r['side'] == side and r['size'] == size and r['model'] < quiet]
        if not rs: print(f"| {side} | {size} | 0 | | | | |"); continue
        med = lambda k, j: st.median(r[k][j] for r in rs)
        print(f"| {side} | {size} | {len(rs)} | {med('c1',0):.1f} | {med('c1',1):.1f} | {med('c8',0):.1f} | {med('c8',1):.1f} |")
