#!/usr/bin/env python3
"""Median time of each step of a container start, from berthd's debug log.

Steps, by the log lines berthd writes for each container: the start request
arrives (api POST .../start), clone3 (engine spawn), release (the cgroups are
made and joined; the child has been mounting its root meanwhile), exec done
(engine start), exit seen and output drained (engine die), removed (engine
destroy). A container that took a warm init (core/engine/warm.h) has no
clone3 of its own: its release is marked "(warm)", and it is reported on
its own. Usage: phases.py berthd.log [...]
"""
import re
import statistics
import sys
from datetime import datetime

STEPS = ["request", "spawn", "release", "exec", "die", "destroy"]
PATTERN = re.compile(r"api POST \S*/containers/(?P<request>[0-9a-f]{64})/start"
                     r"|engine spawn id=(?P<spawn>[0-9a-f]{64})"
                     r"|engine release id=(?P<release>[0-9a-f]{64})(?P<warm> pid=\d+ \(warm\))?"
                     r"|engine start id=(?P<exec>[0-9a-f]{64})"
                     r"|engine die id=(?P<die>[0-9a-f]{64})"
                     r"|engine destroy id=(?P<destroy>[0-9a-f]{64})")


def ms(line):
    return datetime.strptime(line[:26], "%Y-%m-%dT%H:%M:%S.%f").timestamp() * 1e3


def report(title, done, steps):
    print(f"  {title}: {len(done)} containers, median ms per step")
    for a, b in zip(steps, steps[1:]):
        print(f"  {a:>8} -> {b:<8} {statistics.median(s[b] - s[a] for s in done):6.3f}")
    print(f"  {'request':>8} -> {'destroy':<8} {statistics.median(s['destroy'] - s['request'] for s in done):6.3f}")


for path in sys.argv[1:]:
    seen = {}
    for line in open(path):
        m = PATTERN.search(line)
        if m:
            step = next(k for k in STEPS if m.group(k))
            entry = seen.setdefault(m.group(step), {})
            entry[step] = ms(line)
            if m.group("warm"):
                entry["warm"] = True
    cold = [s for s in seen.values() if all(k in s for k in STEPS)]
    warm_steps = [k for k in STEPS if k != "spawn"]
    warm = [s for s in seen.values() if s.get("warm") and all(k in s for k in warm_steps)]
    if not cold and not warm:
        sys.exit(f"{path}: no complete start in the log (was berthd run with --log-level debug?)")
    print(f"{path}:")
    if cold:
        report("cold (clone3 at start)", cold, STEPS)
    if warm:
        report("warm init", warm, warm_steps)
