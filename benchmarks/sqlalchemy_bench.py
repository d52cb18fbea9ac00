#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The loadstar benchmark scenarios run with SQLAlchemy 1.4 (Debian's python3-sqlalchemy).

Same model, same data (the SQLite files bench_loader_strategies makes in LOADSTAR_BENCH_DIR, or
made here by the same rules if missing), same scenarios:

  BM_sqlalchemy_<strategy>/<backend>/parents:N/children:M   load N authors with the strategy,
                                                            touch every author's books
  BM_sqlalchemy_hydrate/<backend>/rows:R                    R books as ORM objects
  BM_sqlalchemy_project/<backend>/rows:R                    (id, title) rows of R books
  BM_sqlalchemy_bulk_add_commit/<backend>/rows:R            R new books: add_all + commit
  BM_sqlalchemy_bulk_insert/<backend>/rows:R                R new books: bulk_insert_mappings

Each repetition runs the scenario until --min-time seconds have passed (at least once), in a fresh
Session per run, and records the mean time per run; the medians of the repetitions are written
in the shape of Google Benchmark's --benchmark_format=json with aggregates only, so one chart
script reads both. Times are CPU times (time.process_time) and wall times (time.perf_counter).

The backends: "file" reads the SQLite file; "memory" copies it into a private in-memory
database (sqlite3 backup) that one pooled connection keeps.
"""

import argparse
import datetime
import json
import os
import platform
import sqlite3
import statistics
import sys
import time

import sqlalchemy
from sqlalchemy import Column, ForeignKey, Integer, Text, create_engine, event
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import (Session, declarative_base, joinedload, lazyload, raiseload, relationship,
                            selectinload, subqueryload)
from sqlalchemy.pool import QueuePool, StaticPool

DATA_VERSION = 3  # bench::data_version in bench_model.hpp

Base = declarative_base()


class Author(Base):
    __tablename__ = "authors"
    id = Column(Integer, primary_key=True)
    name = Column(Text, nullable=False)
    email = Column(Text)
    books = relationship("Book", back_populates="author")


class Book(Base):
    __tablename__ = "books"
    id = Column(Integer, primary_key=True)
    title = Column(Text, nullable=False)
    year = Column(Integer, nullable=False)
    author_id = Column(Integer, ForeignKey("authors.id"), nullable=False, index=True)
    author = relationship("Author", back_populates="books")


# ---- the data: the rules of bench_model.hpp ---------------------------------------------------

def author_email(i):
    return None if i % 7 == 0 else f"author{i}@example.com"


def book_year(i, j):
    return 1900 + (i * 7 + j) % 120


SCHEMA = [
    "CREATE TABLE IF NOT EXISTS authors (\n    id INTEGER PRIMARY KEY,\n    name TEXT NOT NULL,\n"
    "    email TEXT\n)",
    "CREATE TABLE IF NOT EXISTS books (\n    id INTEGER PRIMARY KEY,\n    title TEXT NOT NULL,\n"
    "    year INTEGER NOT NULL,\n    author_id INTEGER NOT NULL,\n"
    "    FOREIGN KEY (author_id) REFERENCES authors (id)\n)",
    "CREATE INDEX IF NOT EXISTS ix_books_author_id ON books (author_id)",
]


def file_path(data_dir, parents, children):
    return os.path.join(data_dir, f"authors_books_{parents}_{children}.db")


def ensure_file(data_dir, parents, children):
    """The data set's file, made (atomically) unless one of the current version is there."""
    path = file_path(data_dir, parents, children)
    if os.path.exists(path):
        con = sqlite3.connect(path)
        version = con.execute("PRAGMA user_version").fetchone()[0]
        con.close()
        if version == DATA_VERSION:
            return path
    os.makedirs(data_dir, exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    if os.path.exists(tmp):
        os.remove(tmp)
    con = sqlite3.connect(tmp, isolation_level=None)
    for ddl in SCHEMA:
        con.execute(ddl)
    con.execute("BEGIN")
    con.executemany("INSERT INTO authors (id, name, email) VALUES (?, ?, ?)",
                    ((i, f"Author {i}", author_email(i)) for i in range(1, parents + 1)))
    con.executemany("INSERT INTO books (id, title, year, author_id) VALUES (?, ?, ?, ?)",
                    (((i - 1) * children + j + 1, f"Book {i}-{j}", book_year(i, j), i)
                     for i in range(1, parents + 1) for j in range(children)))
    con.execute(f"PRAGMA user_version = {DATA_VERSION}")
    con.execute("COMMIT")
    con.close()
    os.replace(tmp, path)
    return path


def make_engine(path, backend):
    if backend == "file":
        # One pooled connection reused by every session (SQLAlchemy 1.4 would otherwise use a
        # NullPool for files and reconnect per session, which would only make it slower).
        return create_engine(f"sqlite:///{path}", poolclass=QueuePool, pool_size=1, max_overflow=0)
    src = sqlite3.connect(path)
    mem = sqlite3.connect(":memory:", check_same_thread=False)
    src.backup(mem)
    src.close()
    return create_engine("sqlite://", creator=lambda: mem, poolclass=StaticPool)


# ---- scenarios ---------------------------------------------------------------------------------

OPTIONS = {
    "lazy": lazyload,
    "joined": joinedload,
    "selectin": selectinload,
    "subquery": subqueryload,
    "raise": raiseload,
}


def load_and_touch(engine, strategy):
    """Loads every author with the strategy and touches each collection: (books, refused)."""
    books = refused = checksum = 0
    with Session(engine) as s:
        authors = s.query(Author).options(OPTIONS[strategy](Author.books)).all()
        for a in authors:
            try:
                for b in a.books:
                    books += 1
                    checksum += b.year
            except InvalidRequestError:
                refused += 1
    return books, refused, checksum


def hydrate(engine):
    with Session(engine) as s:
        total = 0
        for b in s.query(Book).all():
            total += b.year
        return total


def project(engine):
    with Session(engine) as s:
        return len(s.query(Book.id, Book.title).all())


def new_books(n):
    return [dict(title=f"Book {k // 100 + 1}-{k % 100}", year=book_year(k // 100 + 1, k % 100),
                 author_id=k % 1000 + 1) for k in range(n)]


class Counter:
    """Counts statements that reach the cursor (SQLAlchemy's own count, as loadstar's)."""

    def __init__(self, engine):
        self.engine = engine
        self.count = 0

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._on)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._on)

    def _on(self, *args):
        self.count += 1


def measure(fn, repetitions, min_time, setup=None):
    """Per repetition: runs fn until min_time CPU seconds passed; returns per-run times."""
    reps = []
    iterations = 0
    for _ in range(repetitions):
        n = 0
        cpu = wall = 0.0
        while True:
            if setup:
                setup()
            c0, w0 = time.process_time(), time.perf_counter()
            fn()
            cpu += time.process_time() - c0
            wall += time.perf_counter() - w0
            n += 1
            if cpu >= min_time:
                break
        reps.append((cpu / n, wall / n))
        iterations = n
    return reps, iterations


def aggregate(name, reps, iterations, counters):
    out = []
    cpus = [r[0] for r in reps]
    walls = [r[1] for r in reps]
    for agg, f in (("mean", statistics.mean), ("median", statistics.median),
                   ("stddev", lambda v: statistics.stdev(v) if len(v) > 1 else 0.0)):
        entry = {
            "name": f"{name}_{agg}",
            "family_index": 0,
            "run_name": name,
            "run_type": "aggregate",
            "repetitions": len(reps),
            "threads": 1,
            "aggregate_name": agg,
            "aggregate_unit": "time",
            "iterations": iterations,
            "real_time": f(walls) * 1e3,
            "cpu_time": f(cpus) * 1e3,
            "time_unit": "ms",
        }
        entry.update(counters)
        out.append(entry)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default=os.environ.get("LOADSTAR_BENCH_DIR", "/tmp/loadstar-bench"))
    ap.add_argument("--out", default="-", help="JSON file ('-': stdout)")
    ap.add_argument("--parents", default="100,1000,10000")
    ap.add_argument("--children", default="0,1,10,50")
    ap.add_argument("--strategies", default="lazy,joined,selectin,subquery,raise")
    ap.add_argument("--backends", default="memory,file")
    ap.add_argument("--repetitions", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.2, help="CPU seconds per repetition, at least one run")
    ap.add_argument("--max-seconds", type=float, default=3.0,
                    help="a case whose single run takes longer gets 3 repetitions")
    ap.add_argument("--rows-parents", type=int, default=10000,
                    help="hydrate/project the books of this many authors x 10 (10,000: 100,000 rows)")
    ap.add_argument("--bulk-rows", type=int, default=100000)
    ap.add_argument("--filter", default="", help="run only the cases whose name contains this")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, one repetition")
    args = ap.parse_args()
    if args.smoke:
        args.parents, args.children, args.repetitions, args.min_time = "100", "0,10", 1, 0.0
        args.rows_parents, args.bulk_rows = 100, 1000

    parents = [int(x) for x in args.parents.split(",") if x]
    children = [int(x) for x in args.children.split(",") if x]
    strategies = [x for x in args.strategies.split(",") if x]
    backends = [x for x in args.backends.split(",") if x]
    results = []

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    def run_case(name, fn, counters_fn, setup=None):
        if args.filter and args.filter not in name:
            return
        # The counted run (which also checks the result) tells how long one run takes.
        t0 = time.process_time()
        counters = counters_fn()
        single = time.process_time() - t0
        reps = args.repetitions if single <= args.max_seconds else min(args.repetitions, 3)
        measured, iterations = measure(fn, reps, args.min_time, setup)
        entries = aggregate(name, measured, iterations, counters)
        results.extend(entries)
        med = entries[1]
        log(f"{name:<60} {med['cpu_time']:12.3f} ms cpu {med['real_time']:12.3f} ms wall  "
            f"x{len(measured)} {counters}")

    for backend in backends:
        for n in parents:
            for m in children:
                path = ensure_file(args.dir, n, m)
                engine = make_engine(path, backend)
                for strategy in strategies:
                    name = f"BM_sqlalchemy_{strategy}/{backend}/parents:{n}/children:{m}"

                    def counters(strategy=strategy, n=n, m=m):
                        with Counter(engine) as c:
                            books, refused, checksum = load_and_touch(engine, strategy)
                        expect = sum(book_year(i, j) for i in range(1, n + 1) for j in range(m))
                        ok = (refused == n and books == 0) if strategy == "raise" else \
                            (books == n * m and checksum == expect)
                        if not ok:
                            raise SystemExit(f"{name}: loaded the wrong objects")
                        return {"statements": float(c.count)}

                    run_case(name, lambda strategy=strategy: load_and_touch(engine, strategy), counters)
                engine.dispose()

        path = ensure_file(args.dir, args.rows_parents, 10)
        engine = make_engine(path, backend)
        rows = args.rows_parents * 10

        def count_of(fn):
            def counters():
                with Counter(engine) as c:
                    fn()
                return {"statements": float(c.count)}
            return counters

        run_case(f"BM_sqlalchemy_hydrate/{backend}/rows:{rows}", lambda: hydrate(engine), count_of(lambda: hydrate(engine)))
        run_case(f"BM_sqlalchemy_project/{backend}/rows:{rows}", lambda: project(engine), count_of(lambda: project(engine)))
        engine.dispose()

        # Bulk: 1,000 authors and no books; the books are deleted before each run (untimed).
        bulk_path = os.path.join(args.dir, f"sqlalchemy_bulk_{os.getpid()}.db")
        if os.path.exists(bulk_path):
            os.remove(bulk_path)
        con = sqlite3.connect(bulk_path, isolation_level=None)
        for ddl in SCHEMA:
            con.execute(ddl)
        con.executemany("INSERT INTO authors (id, name, email) VALUES (?, ?, ?)",
                        ((i, f"Author {i}", author_email(i)) for i in range(1, 1001)))
        con.close()
        engine = make_engine(bulk_path, backend)
        books = new_books(args.bulk_rows)

        def clear():
            with engine.begin() as c:
                c.exec_driver_sql("DELETE FROM books")

        def add_commit():
            with Session(engine) as s:
                s.add_all([Book(**b) for b in books])
                s.commit()

        def bulk_mappings():
            with Session(engine) as s:
                s.bulk_insert_mappings(Book, books)
                s.commit()

        for label, fn in (("bulk_add_commit", add_commit), ("bulk_insert", bulk_mappings)):
            def counters(fn=fn):
                clear()
                with Counter(engine) as c:
                    fn()
                return {"statements": float(c.count)}
            run_case(f"BM_sqlalchemy_{label}/{backend}/rows:{args.bulk_rows}", fn, counters, setup=clear)
        engine.dispose()
        os.remove(bulk_path)

    doc = {
        "context": {
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "host_name": platform.node(),
            "executable": os.path.abspath(__file__),
            "library": "sqlalchemy",
            "sqlalchemy_version": sqlalchemy.__version__,
            "python_version": platform.python_version(),
            "sqlite_version": sqlite3.sqlite_version,
            "time_measure": "cpu_time: time.process_time, real_time: time.perf_counter",
            "loadstar_bench_data_dir": args.dir,
        },
        "benchmarks": results,
    }
    text = json.dumps(doc, indent=2)
    if args.out == "-":
        print(text)
    else:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
