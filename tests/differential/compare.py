#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compare two differential outputs (oracle vs loadstar), scenario by scenario.

Usage: compare.py A B [--fewer-ok FILE] [--at-most]

--fewer-ok FILE names scenarios (one per line, '#' comments) where B may issue
FEWER statements than A by design (the graphs must still be identical); each
line says why. Anything else stays strict.

--at-most lets B issue fewer statements than A in every scenario (graphs still
identical): on PostgreSQL loadstar's selectin is one `= ANY(?)` statement where
SQLAlchemy 1.4 sends one IN list per 500 keys. Each such scenario is listed.

Each file is a sequence of scenarios: a line '# <name>', body lines, and a
final '= statements <n>'. Strict: the scenario name lists must be identical
(same names, same order), and every scenario's body and statement count must
match exactly. For each differing scenario prints its name, the first
differing line of each side and both statement counts. Exit 0 if identical,
1 on any difference (a missing, truncated or malformed file
counts as one), 2 on bad usage.
"""
import sys


class Malformed(Exception):
    pass


def parse(path):
    """-> list of (name, body lines, statement count or None)."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Malformed("%s: not UTF-8 (%s)" % (path, e))
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    scenarios = []
    cur = None
    for i, raw in enumerate(lines, 1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if line.startswith("# "):
            if cur is not None:
                raise Malformed("%s:%d: scenario %r has no '= statements' line" % (path, i, cur[0]))
            cur = (line[2:], [], i)
        elif line.startswith("= statements "):
            if cur is None:
                raise Malformed("%s:%d: '= statements' outside a scenario" % (path, i))
            n = line[len("= statements "):]
            if not n.isdigit():
                raise Malformed("%s:%d: bad statement count %r" % (path, i, n))
            scenarios.append((cur[0], cur[1], int(n), cur[2]))
            cur = None
        else:
            if cur is None:
                raise Malformed("%s:%d: line outside a scenario: %r" % (path, i, line[:100]))
            cur[1].append((i, line))
    if cur is not None:
        raise Malformed("%s: scenario %r not terminated (truncated output?)" % (path, cur[0]))
    names = [s[0] for s in scenarios]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise Malformed("%s: duplicate scenarios: %s" % (path, " ".join(dup)))
    return scenarios


def clip(s, n=200):
    return s if len(s) <= n else s[:n] + "...(%d chars)" % len(s)


def main(argv):
    fewer_ok = set()
    at_most = "--at-most" in argv[3:]
    if at_most:
        argv = [a for a in argv if a != "--at-most"]
    if len(argv) == 5 and argv[3] == "--fewer-ok":
        with open(argv[4], encoding="utf-8") as f:
            for raw in f:
                name = raw.split("#", 1)[0].strip()
                if name:
                    fewer_ok.add(name)
        argv = argv[:3]
    if len(argv) != 3:
        sys.stderr.write("usage: compare.py A B [--fewer-ok FILE] [--at-most]\n")
        return 2
    pa, pb = argv[1], argv[2]
    try:
        sa = parse(pa)
        sb = parse(pb)
    except (OSError, Malformed) as e:
        print("compare: %s" % e)
        print("FAIL: unreadable or malformed output")
        return 1

    failed = False
    na = [s[0] for s in sa]
    nb = [s[0] for s in sb]
    if na != nb:
        failed = True
        only_a = [n for n in na if n not in nb]
        only_b = [n for n in nb if n not in na]
        print("scenario lists differ (%d in A, %d in B)" % (len(na), len(nb)))
        if only_a:
            print("  only in A (%s): %s" % (pa, " ".join(only_a)))
        if only_b:
            print("  only in B (%s): %s" % (pb, " ".join(only_b)))
        if not only_a and not only_b:
            for i, (x, y) in enumerate(zip(na, nb)):
                if x != y:
                    print("  order differs at position %d: A has %s, B has %s" % (i + 1, x, y))
                    break

    db = {s[0]: s for s in sb}
    n_diff = 0
    for name, body_a, count_a, _ in sa:
        if name not in db:
            continue
        _, body_b, count_b, _ = db[name]
        la = [l for _, l in body_a]
        lb = [l for _, l in body_b]
        if la == lb and count_a == count_b:
            continue
        if la == lb and (name in fewer_ok or at_most) and count_b < count_a:
            print("fewer %s: statements A=%d B=%d (allowed: %s)"
                  % (name, count_a, count_b, "see --fewer-ok list" if name in fewer_ok else "--at-most"))
            continue
        failed = True
        n_diff += 1
        print("DIFF %s" % name)
        if la != lb:
            k = 0
            while k < len(la) and k < len(lb) and la[k] == lb[k]:
                k += 1
            a_line = ("line %d: %s" % (body_a[k][0], clip(la[k]))) if k < len(la) else "<end of scenario, %d body lines>" % len(la)
            b_line = ("line %d: %s" % (body_b[k][0], clip(lb[k]))) if k < len(lb) else "<end of scenario, %d body lines>" % len(lb)
            print("  first difference at body line %d" % (k + 1))
            if k > 0:
                print("  last common:  %s" % clip(la[k - 1]))
            print("  A: %s" % a_line)
            print("  B: %s" % b_line)
        print("  statements: A=%d B=%d%s" % (count_a, count_b, "" if count_a == count_b else "  <-- differ"))

    if failed:
        print("FAIL: %d scenario(s) differ%s" % (n_diff, "; scenario lists differ" if na != nb else ""))
        return 1
    print("OK: %d scenarios identical" % len(sa))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
