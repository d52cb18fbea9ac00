#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Compile-time measurement, charts and summary for scripts/bench.

  report.py compile-time --build-dir build/release --out results/compile_time.json [--runs 3]
      compiles benchmarks/compile_time.cpp with the exact command (release flags) CMake uses
      for the benchmark binary, --runs times, and writes the medians (wall and CPU seconds), with
      and without -DLOADSTAR_COMPILE_TIME_HEADERS_ONLY.

  report.py render --results benchmarks/results
      reads loader_strategies.json (Google Benchmark, aggregates), sqlalchemy.json (the same
      shape) and compile_time.json; writes strategies_<backend>.png (gnuplot) and summary.md.

Every figure is the median of the repetitions, in CPU time (the machine that runs the suite may
be busy; CPU time is what a busy machine disturbs least). Ratios are taken within one run.
"""

import argparse
import json
import os
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

STRATEGIES = ["lazy", "joined", "selectin", "subquery", "raise"]
COLORS = {"lazy": "#d62728", "joined": "#1f77b4", "selectin": "#2ca02c", "subquery": "#9467bd",
          "raise": "#7f7f7f"}
BACKEND_TITLES = {"memory": "SQLite in memory", "file": "SQLite file", "postgres": "PostgreSQL (loopback)"}


# ---- compile time ----------------------------------------------------------------------------------

def compile_command(build_dir):
    with open(os.path.join(build_dir, "compile_commands.json")) as f:
        entries = json.load(f)
    for e in entries:
        if e["file"].endswith("benchmarks/loader_strategies.cpp"):
            args = e.get("arguments") or shlex.split(e["command"])
            return e["directory"], args
    raise SystemExit("report.py: no compile command for benchmarks/loader_strategies.cpp in " + build_dir)


def compile_time(args):
    directory, cmd = compile_command(args.build_dir)
    source = os.path.join(HERE, "compile_time.cpp")
    out = []
    skip = False
    for i, a in enumerate(cmd):
        if skip:
            skip = False
            continue
        if a == "-o":
            out += ["-o", "/dev/null"]
            skip = True
        elif a.endswith("loader_strategies.cpp"):
            out.append(source)
        elif a == "-Werror" or a.startswith("-DLOADSTAR_BENCH_"):
            # Benchmark-only flags do not belong to an application TU, and a warning should not
            # stop the measurement (it is reported); the rest stays (-O3 -DNDEBUG -std=c++20 ...).
            continue
        else:
            out.append(a)
    results = {"command": " ".join(shlex.quote(a) for a in out), "runs": args.runs}
    for label, extra in (("full", []), ("headers_only", ["-DLOADSTAR_COMPILE_TIME_HEADERS_ONLY"])):
        walls, cpus = [], []
        for _ in range(args.runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            p = subprocess.run(out[:1] + extra + out[1:], cwd=directory, capture_output=True, text=True)
            if p.returncode != 0:
                sys.stderr.write(p.stderr)
                raise SystemExit("report.py: compile_time.cpp does not compile")
            walls.append(time.perf_counter() - t0)
            warnings = sorted({ln.split("warning: ", 1)[1] for ln in p.stderr.splitlines() if "warning: " in ln})
            if warnings:
                results.setdefault("warnings", sorted(set(results.get("warnings", [])) | set(warnings)))
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
        results[label] = {"wall_seconds": statistics.median(walls), "cpu_seconds": statistics.median(cpus),
                          "wall_all": walls, "cpu_all": cpus}
        print(f"compile_time.cpp ({label}): median {statistics.median(walls):.2f} s wall, "
              f"{statistics.median(cpus):.2f} s CPU over {args.runs} runs", file=sys.stderr)
    results["compiler"] = subprocess.run(out[:1] + ["--version"], capture_output=True, text=True).stdout.splitlines()[0]
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")


# ---- reading results -----------------------------------------------------------------------------

def to_ms(value, unit):
    return value * {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def doc_benchmarks(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return json.load(f).get("benchmarks", [])


def load_medians(path):
    """run_name -> {"ms": cpu ms, "real_ms": wall ms, counters...} for the median aggregates."""
    if not os.path.exists(path):
        return {}, {}
    with open(path) as f:
        doc = json.load(f)
    out = {}
    for b in doc.get("benchmarks", []):
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        if b.get("error_occurred"):
            continue
        # Google Benchmark appends /min_time:X and /real_time to names set that way: drop them.
        name = re.sub(r"/(min_time:[0-9.]+|real_time)(?=/|$)", "", b.get("run_name", b["name"]))
        cpu, real = to_ms(b["cpu_time"], b["time_unit"]), to_ms(b["real_time"], b["time_unit"])
        # PostgreSQL works in the server process: there the measure is wall-clock time.
        entry = {"ms": real if "/postgres/" in name or name.endswith("/postgres") else cpu, "real_ms": real,
                 "cpu_ms": cpu}
        for k in ("statements", "rows", "heap_B_per_row", "sizeof_object"):
            if k in b:
                entry[k] = b[k]
        # A run without repetitions has no aggregates: keep the plain result unless a median came.
        if b.get("run_type") == "aggregate" or name not in out:
            out[name] = entry
    return out, doc.get("context", {})


NAME = re.compile(r"^BM_(?P<who>load|raw|sqlalchemy)_(?P<strategy>\w+?)/(?P<backend>\w+)/parents:(?P<n>\d+)/children:(?P<m>\d+)$")


def grid(results):
    """(who, strategy, backend, n, m) -> ms"""
    g = {}
    for name, e in results.items():
        mo = NAME.match(name)
        if mo:
            g[(mo["who"], mo["strategy"], mo["backend"], int(mo["n"]), int(mo["m"]))] = e
    return g


# ---- charts --------------------------------------------------------------------------------------

def render_chart(g, backend, path, gnuplot):
    ns = sorted({k[3] for k in g if k[2] == backend})
    ms = sorted({k[4] for k in g if k[2] == backend})
    if not ns:
        return False
    lines = []
    blocks = []

    def block(name, who, strategy, m):
        pts = [(n, g[(who, strategy, backend, n, m)]["ms"]) for n in ns if (who, strategy, backend, n, m) in g]
        if not pts:
            return None
        blocks.append(f"${name} << EOD\n" + "\n".join(f"{n} {t:.6g}" for n, t in pts) + "\nEOD\n")
        return name

    lines.append("set terminal pngcairo size 1500,1100 font 'DejaVu Sans,11' noenhanced")
    lines.append(f"set output '{path}'")
    has_sa = any(k[0] == "sqlalchemy" and k[2] == backend for k in g)
    measure = "wall time" if backend == "postgres" else "CPU time"
    title = (f"loadstar loader strategies, {BACKEND_TITLES.get(backend, backend)}: {measure} per load "
             f"(fresh session, every collection touched; median)")
    lines.append(f"set multiplot layout 2,2 title '{title}' font ',14'")
    lines.append("set logscale xy")
    lines.append("set grid xtics ytics lc rgb '#bbbbbb' lw 0.8")
    lines.append("set xlabel 'parents (authors)'")
    lines.append("set ylabel 'milliseconds'")
    lines.append("set xrange [70:14000]")
    lines.append(f"set xtics ({', '.join(str(n) for n in ns)})")
    lines.append("set format y '%g'")
    lines.append("set key top left Left reverse samplen 3 spacing 1.1 font ',10' box opaque")
    for pi, m in enumerate(ms):
        lines.append(f"set title 'children per parent: {m}'")
        plots = []
        for s in STRATEGIES:
            c = COLORS[s]
            b = block(f"ls_{s}_{m}", "load", s, m)
            if b:
                t = f"loadstar {s}" if pi == 0 else ""
                plots.append(f"${b} using 1:2 with linespoints lw 2.5 pt 7 ps 1.1 lc rgb '{c}' "
                             + (f"title '{t}'" if t else "notitle"))
            b = block(f"raw_{s}_{m}", "raw", s, m)
            if b:
                plots.append(f"${b} using 1:2 with lines lw 2 dt 2 lc rgb '{c}' notitle")
            b = block(f"sa_{s}_{m}", "sqlalchemy", s, m)
            if b:
                plots.append(f"${b} using 1:2 with lines lw 2 dt 3 lc rgb '{c}' notitle")
        if pi == 0:
            # Legend entries for the line styles of the reference lines.
            raw = "raw libpq" if backend == "postgres" else "raw sqlite3"
            plots.append(f"NaN with lines lw 2 dt 2 lc rgb 'black' title '{raw}, same SQL (dashed)'")
            if has_sa:
                plots.append("NaN with lines lw 2 dt 3 lc rgb 'black' title 'SQLAlchemy 1.4 (dotted)'")
        else:
            lines.append("unset key")
        lines.append("plot " + ", \\\n     ".join(plots))
        if pi == 0:
            lines.append("set key top left Left reverse samplen 3 spacing 1.1 font ',10' box opaque")
    lines.append("unset multiplot")
    script = "".join(blocks) + "\n".join(lines) + "\n"
    with tempfile.NamedTemporaryFile("w", suffix=".gp", delete=False) as f:
        f.write(script)
    try:
        subprocess.run([gnuplot, f.name], check=True)
    finally:
        os.unlink(f.name)
    return True


# ---- summary ---------------------------------------------------------------------------------------

def fmt_ms(v):
    if v is None:
        return "n/a"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def concurrency_section(res):
    """summary.md lines for bench_sqlite_concurrency's results (sqlite_concurrency.json), if any:
    transactions and reads per second, loadstar against hand-written sqlite3 in the same run."""
    path = os.path.join(res, "sqlite_concurrency.json")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        data = json.load(f)
    rate, blocked = {}, {}
    for b in data.get("benchmarks", []):
        if b.get("aggregate_name", "median") != "median" or b.get("error_occurred"):
            continue
        name = b.get("run_name", b["name"])
        rate[name] = b.get("items_per_second")
        if "readers_blocked" in b:
            blocked[name] = b["readers_blocked"]
    out = ["## SQLite under concurrent sessions\n",
           "`bench_sqlite_concurrency`, one file, loadstar's defaults (WAL, synchronous=NORMAL, BEGIN "
           "IMMEDIATE for writes, 5 s busy timeout) and hand-written sqlite3 code with the same settings, "
           "same run, medians. A transfer reads two accounts, writes both and logs a row; a read loads every "
           "account in one transaction while one more thread runs transfers.\n",
           "| case | threads | loadstar /s | raw /s | loadstar / raw | reads that waited > 50 ms (loadstar, raw) |",
           "| --- | ---: | ---: | ---: | ---: | --- |"]
    for case, label in (("transfer", "transfer transactions"), ("read_while_writing", "reads while writing")):
        for name in sorted(k for k in rate if k.startswith(f"{case}/loadstar/")):
            suffix = name[len(f"{case}/loadstar/"):]
            raw_name = f"{case}/raw/{suffix}"
            a, r = rate.get(name), rate.get(raw_name)
            threads = suffix.split("threads:")[-1].split("/")[0] if "threads:" in suffix else "1"
            ratio = f"{a / r:.2f}" if a and r else "n/a"
            waited = ""
            if name in blocked or raw_name in blocked:
                waited = f"{blocked.get(name, 0):.0f}, {blocked.get(raw_name, 0):.0f}"
            out.append(f"| {label} | {threads} | {a or 0:,.0f} | {r or 0:,.0f} | {ratio} | {waited} |")
    out.append("")
    return out


def typed_section(res):
    """summary.md lines for bench_typed_plans (typed_plans.json): typed views against the
    untyped query, same data, same run, median CPU time."""
    path = os.path.join(res, "typed_plans.json")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        data = json.load(f)
    cpu = {}
    for b in data.get("benchmarks", []):
        if b.get("aggregate_name", "median") != "median" or b.get("error_occurred"):
            continue
        cpu[b.get("run_name", b["name"])] = b["cpu_time"], b.get("time_unit", "ns"), b.get("counters", b).get("checksum", b.get("checksum"))
    out = ["## Typed plans\n",
           "`bench_typed_plans`: a selectin load of authors with 10 books each and a walk over every book, "
           "through typed views and through the untyped query (the same checksum), SQLite file, median CPU.\n",
           "| case | authors | untyped | typed | typed / untyped |", "| --- | ---: | ---: | ---: | ---: |"]
    for case in ("walk", "load_walk"):
        for n in ("1000", "10000"):
            u, t = cpu.get(f"{case}/untyped/authors:{n}"), cpu.get(f"{case}/typed/authors:{n}")
            if not u or not t:
                continue
            out.append(f"| {case.replace('_', ' + ')} | {int(n):,} | {u[0]:,.0f} {u[1]} | {t[0]:,.0f} {t[1]} | "
                       f"{t[0] / u[0]:.2f} |")
    out.append("")
    return out


def render(args):
    res = args.results
    ls, ctx = load_medians(os.path.join(res, "loader_strategies.json"))
    sa, sa_ctx = load_medians(os.path.join(res, "sqlalchemy.json"))
    ct = None
    if os.path.exists(os.path.join(res, "compile_time.json")):
        with open(os.path.join(res, "compile_time.json")) as f:
            ct = json.load(f)
    allres = dict(ls)
    allres.update(sa)
    g = grid(allres)
    backends = [b for b in ("memory", "file", "postgres") if any(k[2] == b for k in g)]

    gnuplot = shutil.which("gnuplot")
    charts = []
    if gnuplot:
        for b in backends:
            png = os.path.join(res, f"strategies_{b}.png")
            if render_chart(g, b, png, gnuplot):
                charts.append((b, os.path.basename(png)))
    else:
        print("report.py: gnuplot not found, no charts", file=sys.stderr)

    def t(name):
        e = allres.get(name)
        return e["ms"] if e else None

    N, M = 10000, 10
    rows_name = "rows:100000"
    out = []
    out.append("# loadstar benchmark summary\n")
    rev = ctx.get("loadstar_source")
    if not rev:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True).stdout.strip() + " (at rendering time)"
    out.append(f"Source measured: {rev}.\n")
    reps = sorted({b.get("repetitions", 1) for b in doc_benchmarks(os.path.join(res, "loader_strategies.json"))})
    min_time = os.environ.get("BENCH_MIN_TIME")
    warmup = os.environ.get("BENCH_WARMUP")
    reps_txt = (f"{'/'.join(map(str, reps)) if reps else 'the'} repetitions"
                + (f" (each at least {min_time} s of CPU time; PostgreSQL cells 0.5 s)" if min_time else "")
                + (f", after {warmup} s of untimed warm-up iterations of the same case" if warmup else ""))
    out.append(f"Produced by `scripts/bench` on {ctx.get('date', '?')} ({ctx.get('host_name', '?')}, "
               f"{ctx.get('num_cpus', '?')} CPUs, load average at start "
               f"{', '.join(f'{x:.1f}' for x in ctx.get('load_avg', []))}); SQLite "
               f"{ctx.get('sqlite_version', '?')}, SQLAlchemy {sa_ctx.get('sqlalchemy_version', 'not run')}. "
               f"Every figure is the median of {reps_txt} in CPU time (milliseconds; on PostgreSQL, "
               "wall-clock time, since the server does part of the work); a ratio divides two medians of "
               "the same run. Raw baselines are hand-written sqlite3 C API code (libpq on PostgreSQL) "
               "running the same SQL into the graph loadstar builds (issue 14): a `std::shared_ptr` per author "
               "and per book, an author's books in a `std::vector` of them; prepared once, reset and "
               "rebound; each checks the books' count and a checksum of their years against the generator's "
               "(loadstar's cells check the same). `BM_raw_plain_*` (plain structs, `std::vector<book>` "
               "children) and `BM_hydrate_raw` (plain structs) are kept for reference.\n")
    if sa_ctx.get("date") and ctx.get("date") and sa_ctx["date"][:10] != ctx["date"][:10]:
        # BENCH_SA=0 reuses an earlier sqlalchemy.json: say so, since SQLAlchemy-to-loadstar
        # ratios then divide figures of two runs (SQLAlchemy's do not depend on loadstar's code).
        out.append(f"SQLAlchemy's figures are from an earlier run ({sa_ctx['date']}, same machine and data); "
                   "ratios to SQLAlchemy divide medians of the two runs.\n")
    load, cpus = ctx.get("load_avg", [0])[0], ctx.get("num_cpus", 0)
    if cpus and load > cpus:
        out.append(f"**The machine was busy** (load average {load:.1f} on {cpus} CPUs while the suite started): "
                   "CPU-time figures hold up reasonably (same-run ratios, medians of repetitions), but the "
                   "wall-clock figures (PostgreSQL, whose client and server take turns) are noisy; small "
                   "PostgreSQL cells in particular can swing by 2x either way between runs.\n")
    if ctx.get("loadstar_bench_smoke") == "1":
        out.append("**Smoke run (tiny sizes): the figures below are not the real grid.**\n")

    # The targets.
    rows = []

    def target(label, backend, num, den, goal, inverse=False, ref_label="raw"):
        a, b = t(num), t(den)
        if a is None or b is None:
            rows.append(f"| {label} | {backend} | {fmt_ms(a)} | {fmt_ms(b)} | n/a | {goal} | not measured |")
            return
        ratio = b / a if inverse else a / b
        limit = float(goal.split()[1].rstrip("x"))
        ok = ratio >= limit if inverse else ratio <= limit
        rows.append(f"| {label} | {backend} | {fmt_ms(a)} | {fmt_ms(b)} | **{ratio:.2f}x** | {goal} | "
                    f"{'met' if ok else 'MISSED'} |")

    def cell_of(m):
        return f"parents:{N}/children:{m}"

    cell = cell_of(M)
    for b in backends:
        if b == "postgres":
            continue
        for m in (10, 50):
            for st in ("selectin", "joined", "subquery"):
                target(f"{st} 10,000 authors x {m} books / raw", b, f"BM_load_{st}/{b}/{cell_of(m)}",
                       f"BM_raw_{st}/{b}/{cell_of(m)}", "<= 1.25x")
        for m in (10, 50):
            target(f"lazy N+1, 10,000 authors x {m} books / raw", b, f"BM_load_lazy/{b}/{cell_of(m)}",
                   f"BM_raw_lazy/{b}/{cell_of(m)}", "<= 1.3x")
        target("100,000 rows hydrated, tracked / raw shared_ptr", b, f"BM_hydrate_tracked/{b}/{rows_name}",
               f"BM_hydrate_raw_shared/{b}/{rows_name}", "<= 1.3x")
        target("100,000 rows hydrated, untracked / raw shared_ptr", b, f"BM_hydrate_untracked/{b}/{rows_name}",
               f"BM_hydrate_raw_shared/{b}/{rows_name}", "<= 1.05x")
    if "postgres" in backends:
        for m in (10, 50):
            target(f"selectin 10,000 x {m} / raw libpq `= ANY($1)`", "postgres",
                   f"BM_load_selectin/postgres/{cell_of(m)}", f"BM_raw_selectin/postgres/{cell_of(m)}", "<= 1.1x")
            for st in ("joined", "subquery"):
                target(f"{st} 10,000 x {m} / raw libpq", "postgres", f"BM_load_{st}/postgres/{cell_of(m)}",
                       f"BM_raw_{st}/postgres/{cell_of(m)}", "<= 1.25x")
            target(f"lazy 10,000 x {m} / raw libpq (no target; for reference)", "postgres",
                   f"BM_load_lazy/postgres/{cell_of(m)}", f"BM_raw_lazy/postgres/{cell_of(m)}", "<= 1.3x")
    # Memory per tracked object beyond the struct: loadstar's heap per row minus what the raw
    # shared_ptr code holds per row with the struct's size swapped for loadstar's.
    mem_rows = []
    for b in backends:
        tr = allres.get(f"BM_hydrate_tracked/{b}/{rows_name}")
        un = allres.get(f"BM_hydrate_untracked/{b}/{rows_name}")
        rs = allres.get(f"BM_hydrate_raw_shared/{b}/{rows_name}")
        if not (tr and rs and "heap_B_per_row" in tr and "heap_B_per_row" in rs and "sizeof_object" in tr):
            continue
        base = rs["heap_B_per_row"] - rs["sizeof_object"] + tr["sizeof_object"]
        extra = tr["heap_B_per_row"] - base
        extra_u = un["heap_B_per_row"] - base if un and "heap_B_per_row" in un else None
        mem_rows.append(f"| {b} | {tr['heap_B_per_row']:.0f} | {un['heap_B_per_row'] if un else float('nan'):.0f} | "
                        f"{rs['heap_B_per_row']:.0f} | {int(tr['sizeof_object'])} / {int(rs['sizeof_object'])} | "
                        f"**{extra:.0f}** | {extra_u:.0f} | {'met' if extra <= 48 else 'MISSED'} |")
    # Growth: 10x the parents, same children per parent -> time ratio, every strategy.
    growth_rows = []
    for b in backends:
        for st in ("lazy", "joined", "selectin", "subquery"):
            steps = []
            for m in sorted({k[4] for k in g if k[2] == b and k[0] == "load"}):
                for n in (100, 1000):
                    lo, hi = g.get(("load", st, b, n, m)), g.get(("load", st, b, n * 10, m))
                    if lo and hi:
                        steps.append((hi["ms"] / lo["ms"], n, m))
            if not steps:
                continue
            worst = max(steps)
            big = [x for x in steps if x[1] == 1000]
            big_txt = ", ".join(f"x{m}: {r:.1f}x" for r, n, m in sorted(big, key=lambda x: x[2]))
            rlo, rhi = g.get(("raw", st, b, worst[1], worst[2])), g.get(("raw", st, b, worst[1] * 10, worst[2]))
            raw_txt = f"{rhi['ms'] / rlo['ms']:.1f}x" if rlo and rhi else "n/a"
            growth_rows.append(f"| {st} | {b} | {big_txt} | **{worst[0]:.1f}x** ({worst[1]:,} -> {worst[1] * 10:,} "
                               f"parents, x{worst[2]}) | {raw_txt} | <= 11x | {'met' if worst[0] <= 11 else 'MISSED'} |")
    for b in backends:
        if b == "postgres":
            continue
        for st in ("lazy", "joined", "selectin", "subquery"):
            target(f"SQLAlchemy {st} 10,000 x 10 / loadstar (how much faster; issue 6's goal)", b,
                   f"BM_load_{st}/{b}/{cell}", f"BM_sqlalchemy_{st}/{b}/{cell}", ">= 20x", inverse=True)
    out.append("## Targets (issue 14)\n")
    out.append("Ratios to hand-written code building the same graph of `std::shared_ptr` objects, same run.\n")
    out.append("| target | backend | loadstar ms | reference ms | ratio | goal | |")
    out.append("| --- | --- | ---: | ---: | ---: | --- | --- |")
    out.extend(rows)
    if mem_rows:
        out.append("\nMemory per tracked object beyond the struct itself (heap bytes per row while the 100,000 "
                   "loaded rows and their session are held, glibc `mallinfo2`): loadstar tracked minus raw "
                   "shared_ptr, the struct's size swapped (loadstar's `Book` carries a relationship holder the "
                   "raw struct has not). Goal: <= 48 B plus copies of changed columns.\n")
        out.append("| backend | tracked B/row | untracked B/row | raw shared_ptr B/row | sizeof loadstar / raw "
                   "| tracked beyond struct | untracked beyond struct | <= 48 B |")
        out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        out.extend(mem_rows)
    if growth_rows:
        out.append("\nGrowth: the time of 10x the parents (same books per author, so 10x the rows) over the "
                   "time of the smaller size, loadstar, every strategy; 1,000 -> 10,000 parents per child "
                   "count, and the worst step over the grid (100 -> 1,000 too). Goal: <= 11x.\n")
        out.append("| strategy | backend | 1,000 -> 10,000 parents, by books per author | worst step "
                   "| raw, same step | goal | |")
        out.append("| --- | --- | --- | --- | ---: | --- | --- |")
        out.extend(growth_rows)
    if "postgres" not in backends:
        out.append("\nPostgreSQL: not measured (the build has no `loadstar::postgres` target, or "
                   "`LOADSTAR_PG` was not set when the suite ran).")
    out.append("")

    # SQLAlchemy over the whole grid.
    sa_rows = []
    for b in backends:
        ratios = []
        for (who, s, bk, n, m), e in g.items():
            if who == "load" and bk == b and s in ("lazy", "joined", "selectin", "subquery"):
                sae = g.get(("sqlalchemy", s, b, n, m))
                if sae:
                    ratios.append((sae["ms"] / e["ms"], s, n, m))
        if ratios:
            lo = min(ratios)
            hi = max(ratios)
            sa_rows.append(f"| {b} | {lo[0]:.1f}x ({lo[1]}, {lo[2]} x {lo[3]}) | "
                           f"{statistics.median(r[0] for r in ratios):.1f}x | {hi[0]:.1f}x ({hi[1]}, {hi[2]} x {hi[3]}) |")
    if sa_rows:
        out.append("## loadstar against SQLAlchemy 1.4 over the whole grid\n")
        out.append("SQLAlchemy time / loadstar time, every strategy and size (parents x children):\n")
        out.append("| backend | smallest | median | largest |")
        out.append("| --- | ---: | ---: | ---: |")
        out.extend(sa_rows)
        out.append("")

    # Full strategy grid.
    for b in backends:
        ns = sorted({k[3] for k in g if k[2] == b and k[0] == "load"})
        msl = sorted({k[4] for k in g if k[2] == b and k[0] == "load"})
        if not ns:
            continue
        out.append(f"## Strategy grid, {BACKEND_TITLES.get(b, b)}\n")
        out.append("loadstar ms (ratio to raw, statements). Raw has no raise; SQLAlchemy selectin ms in the "
                   "last column where it ran.\n")
        header = "| parents x children | " + " | ".join(STRATEGIES) + " | SQLAlchemy selectin |"
        out.append(header)
        out.append("| --- |" + " ---: |" * (len(STRATEGIES) + 1))
        for n in ns:
            for m in msl:
                cells = []
                for s in STRATEGIES:
                    e = g.get(("load", s, b, n, m))
                    r = g.get(("raw", s, b, n, m))
                    if not e:
                        cells.append("skipped" if s == "lazy" else "")
                        continue
                    txt = fmt_ms(e["ms"])
                    extra = []
                    if r:
                        extra.append(f"{e['ms'] / r['ms']:.2f}x")
                    if "statements" in e:
                        extra.append(f"{int(e['statements'])} st")
                    cells.append(txt + (f" ({', '.join(extra)})" if extra else ""))
                sae = g.get(("sqlalchemy", "selectin", b, n, m))
                cells.append(fmt_ms(sae["ms"]) if sae else "")
                out.append(f"| {n:,} x {m} | " + " | ".join(cells) + " |")
        # The cost of a refused touch.
        costs = []
        for n in ns:
            r = g.get(("load", "raise", b, n, 0))
            u = g.get(("load", "untouched", b, n, 0))
            if r and u:
                costs.append(f"{(r['ms'] - u['ms']) * 1e3 / n:.2f} us at {n:,} parents")
        if costs:
            out.append(f"\nraise: a refused touch (`raise_load_error` thrown and caught) costs "
                       f"{', '.join(costs)} (raise minus the same load without touches).")
        out.append("")

    out.extend(concurrency_section(res))
    out.extend(typed_section(res))

    # Rows, projections, bulk.
    out.append("## Many rows\n")
    out.append("| case | backend | loadstar ms | raw ms | ratio | SQLAlchemy ms |")
    out.append("| --- | --- | ---: | ---: | ---: | ---: |")
    for b in backends:
        def row(label, num, den, sa_name):
            a, r, s = t(num), t(den), t(sa_name)
            ratio = f"{a / r:.2f}x" if a and r else "n/a"
            out.append(f"| {label} | {b} | {fmt_ms(a)} | {fmt_ms(r)} | {ratio} | {fmt_ms(s)} |")
        hrows = [k for k in allres if k.startswith(f"BM_hydrate_raw/{b}/")]
        rn = hrows[0].split("/")[-1] if hrows else rows_name
        bulk = [k for k in allres if k.startswith(f"BM_bulk_raw/{b}/")]
        bn = bulk[0].split("/")[-1] if bulk else "rows:100000"
        row(f"hydrate {rn}, tracked", f"BM_hydrate_tracked/{b}/{rn}", f"BM_hydrate_raw/{b}/{rn}",
            f"BM_sqlalchemy_hydrate/{b}/{rn}")
        row(f"hydrate {rn}, untracked", f"BM_hydrate_untracked/{b}/{rn}", f"BM_hydrate_raw/{b}/{rn}", "")
        row(f"hydrate {rn}, raw into shared_ptr (reference)", f"BM_hydrate_raw_shared/{b}/{rn}",
            f"BM_hydrate_raw/{b}/{rn}", "")
        row(f"projection (id, title) {rn}", f"BM_project_loadstar/{b}/{rn}", f"BM_project_raw/{b}/{rn}",
            f"BM_sqlalchemy_project/{b}/{rn}")
        if t(f"BM_bulk_insert/{b}/{bn}") is not None:
            row(f"bulk_insert {bn}", f"BM_bulk_insert/{b}/{bn}", f"BM_bulk_raw/{b}/{bn}",
                f"BM_sqlalchemy_bulk_insert/{b}/{bn}")
        row(f"add + commit {bn}", f"BM_bulk_add_commit/{b}/{bn}", f"BM_bulk_raw/{b}/{bn}",
            f"BM_sqlalchemy_bulk_add_commit/{b}/{bn}")
        if t(f"BM_bulk_raw_copy/{b}/{bn}") is not None:
            row(f"bulk_insert {bn} against raw COPY", f"BM_bulk_insert/{b}/{bn}", f"BM_bulk_raw_copy/{b}/{bn}", "")
    if ctx.get("loadstar_bulk_insert") == "absent":
        out.append("\n`ls::session::bulk_insert` did not exist when the suite was built: the bulk figure is "
                   "`add` of each object and one `commit`.")
    out.append("")

    if ct:
        full, hdr = ct["full"], ct["headers_only"]
        out.append("## Compile time\n")
        out.append(f"`benchmarks/compile_time.cpp` (four entities, twenty queries), compiled with the release "
                   f"flags (`{ct['compiler']}`), median of {ct['runs']}: **{full['wall_seconds']:.1f} s** wall "
                   f"({full['cpu_seconds']:.1f} s CPU); the loadstar headers alone: {hdr['wall_seconds']:.1f} s "
                   f"wall ({hdr['cpu_seconds']:.1f} s CPU), so the twenty queries and four mappings cost "
                   f"{full['cpu_seconds'] - hdr['cpu_seconds']:.1f} s CPU, "
                   f"{(full['cpu_seconds'] - hdr['cpu_seconds']) / 20:.2f} s per query on average.\n")
        out.append(f"Command: `{ct['command']}`\n")
        if ct.get("warnings"):
            out.append("The compiler warned (with `-Werror`, which the project's own targets use, this TU would "
                       "not build):\n")
            for w in ct["warnings"]:
                out.append(f"- `{w[:300]}`")
            out.append("")

    if charts:
        out.append("## Charts\n")
        for b, png in charts:
            out.append(f"![{BACKEND_TITLES.get(b, b)}]({png})\n")
    with open(os.path.join(res, "summary.md"), "w") as f:
        f.write("\n".join(out).rstrip() + "\n")
    print(f"report.py: wrote {os.path.join(res, 'summary.md')} and {len(charts)} charts", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compile-time")
    c.add_argument("--build-dir", default=os.path.join(ROOT, "build", "release"))
    c.add_argument("--out", default=os.path.join(HERE, "results", "compile_time.json"))
    c.add_argument("--runs", type=int, default=3)
    r = sub.add_parser("render")
    r.add_argument("--results", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    if args.cmd == "compile-time":
        compile_time(args)
    else:
        render(args)


if __name__ == "__main__":
    main()
