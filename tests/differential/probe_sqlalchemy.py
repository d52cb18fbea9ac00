#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Facts about SQLAlchemy 1.4's loaders that the loadstar side must match.

Usage: /usr/bin/python3 probe_sqlalchemy.py DB

Not part of the ctest run; it documents, by experiment, the behaviours the
differential scenarios depend on (statement counts, SQL shapes, and what the
raiseload('*') spelling of loadstar's raiseload_all means). Prints a report.
"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sqlalchemy import create_engine, event, inspect, select  # noqa: E402
from sqlalchemy import exc as sa_exc  # noqa: E402
from sqlalchemy.orm import (  # noqa: E402
    Session, joinedload, raiseload, selectinload, subqueryload,
)

import oracle  # noqa: E402
from oracle import Author, Book, Employee  # noqa: E402

RELS = {
    cls: [r.key for r in inspect(cls).relationships]
    for cls in (oracle.Author, oracle.Book, oracle.Publisher, oracle.Tag, oracle.Profile, oracle.Employee)
}


class Recorder:
    def __init__(self, engine):
        self.engine = engine
        self.sql = []
        self.on = False
        event.listen(engine, "before_cursor_execute", self._before)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        if self.on:
            self.sql.append((statement, parameters))

    def start(self):
        self.sql = []
        self.on = True

    def stop(self):
        self.on = False
        return self.sql


def touch(obj, key):
    """'raise' | 'loaded' (value in __dict__, no SQL possible) | 'unloaded'."""
    if key in obj.__dict__:
        return "loaded"
    try:
        getattr(obj, key)
    except sa_exc.InvalidRequestError as e:
        if "lazy='raise'" in str(e):
            return "raise"
        raise
    return "unloaded"


def short(stmt, params, n=300):
    p = repr(params)
    if len(p) > 120:
        p = p[:120] + "...] (%d params)" % len(params)
    s = " ".join(stmt.split())
    s = s.replace(", ?" * 20, ", ?...")
    while ", ?..., ?..." in s:
        s = s.replace(", ?..., ?...", ", ?...")
    return "%s\n      params: %s" % (s[:n * 10], p)


def main():
    db = sys.argv[1]
    engine = create_engine("sqlite:///" + os.path.abspath(db), future=True)
    with engine.connect() as c:
        c.exec_driver_sql("SELECT 1").all()
    rec = Recorder(engine)

    def run(title, fn, show_sql=False):
        with Session(engine, future=True) as s:
            rec.start()
            res = fn(s)
            sql = rec.stop()
        print("== %s: %d statement(s)%s" % (title, len(sql), ("; " + res) if res else ""))
        if show_sql:
            for st, p in sql:
                print("    " + short(st, p))

    # (a) selectinload on a many-to-one with targets already in the identity map
    def a(s):
        authors = s.execute(select(Author)).scalars().all()
        n0 = len(rec.sql)
        books = s.execute(select(Book).order_by(Book.id).options(selectinload(Book.author))).scalars().all()
        for b in books:
            b.author
        return "%d authors preloaded (1 stmt), then books+selectinload(Book.author): %d stmt(s)" % (
            len(authors), len(rec.sql) - n0)
    run("(a) selectinload(Book.author) after loading all authors", a, show_sql=False)

    def a2(s):
        emps = s.execute(select(Employee).order_by(Employee.id).options(selectinload(Employee.manager))).scalars().all()
        for e in emps:
            e.manager
        return "selectinload(Employee.manager): root already holds every manager"
    run("(a') selectin many-to-one, self-referential", a2)

    # (b) empty root result
    for opt_name, opt in (("subqueryload", subqueryload), ("selectinload", selectinload)):
        for rel in (Author.books, Book.author, Book.tags):
            ent = rel.class_

            def b(s, opt=opt, rel=rel, ent=ent):
                objs = s.execute(select(ent).where(ent.id < 0).options(opt(rel))).scalars().all()
                return "%d rows" % len(objs)
            run("(b) empty root + %s(%s)" % (opt_name, rel), b, show_sql=True)

    # (c) joinedload of a to-many with LIMIT/OFFSET
    run("(c) joinedload(Author.books) + authors_page",
        lambda s: "%d authors" % len(s.execute(oracle.q_authors_page().options(joinedload(Author.books)))
                                      .scalars().unique().all()), show_sql=True)
    run("(c') joinedload(Book.tags) + books_page",
        lambda s: "%d books" % len(s.execute(oracle.q_books_page().options(joinedload(Book.tags)))
                                    .scalars().unique().all()), show_sql=True)
    run("(c'') joinedload(Book.publisher) (to-one) + books_page",
        lambda s: "%d books" % len(s.execute(oracle.q_books_page().options(joinedload(Book.publisher)))
                                    .scalars().unique().all()), show_sql=True)

    # (d) SQL shapes of selectin and subquery, one-to-many and many-to-many
    for root, rel in ((oracle.q_authors_page, Author.books), (oracle.q_books_page, Book.tags),
                      (oracle.q_books_page, Book.author), (oracle.q_authors, Author.profile)):
        for opt_name, opt in (("selectinload", selectinload), ("subqueryload", subqueryload)):
            def d(s, root=root, rel=rel, opt=opt):
                objs = s.execute(root().options(opt(rel))).scalars().unique().all()
                for o in objs:
                    getattr(o, rel.key)
                return "%d roots" % len(objs)
            run("(d) %s(%s) over %s" % (opt_name, rel, root.__name__), d, show_sql=True)

    # (e) does selectinload(Author.books) populate Book.author on the loaded books?
    def e(s, opts, label):
        authors = s.execute(oracle.q_authors().options(*opts)).scalars().unique().all()
        states = {}
        for a_ in authors[:200]:
            for bk in a_.books:
                r = touch(bk, "author")
                states[r] = states.get(r, 0) + 1
        return "%s: touching book.author -> %s" % (label, states)
    run("(e) selectinload(Author.books).raiseload(Book.author)",
        lambda s: e(s, [selectinload(Author.books).raiseload(Book.author)], "explicit raiseload"))
    run("(e) selectinload(Author.books).raiseload('*')",
        lambda s: e(s, [selectinload(Author.books).raiseload("*"), raiseload("*")], "raiseload_all spelling"))
    run("(e) selectinload(Author.books), Book.author default lazy",
        lambda s: e(s, [selectinload(Author.books)], "lazy default (SQL counted above)"))
    run("(e) joinedload(Author.books).raiseload(Book.author)",
        lambda s: e(s, [joinedload(Author.books).raiseload(Book.author)], "joined + explicit raiseload"))
    run("(e) subqueryload(Author.books).raiseload(Book.author)",
        lambda s: e(s, [subqueryload(Author.books).raiseload(Book.author)], "subquery + explicit raiseload"))

    # raiseload_all spelling: what does every relationship at every depth do?
    print("== raiseload_all spelling check (relationship -> loaded/raise/unloaded, per entity and depth)")

    def survey(root_q, opts, path):
        with Session(engine, future=True) as s:
            objs = s.execute(root_q().options(*opts)).scalars().unique().all()[:300]
            seen = {}
            level = [(o, 0) for o in objs]
            depth = 0
            while level:
                nxt = []
                for o, d in level:
                    cls = type(o)
                    for key in RELS[cls]:
                        k = (d, cls.__name__, key)
                        r = touch(o, key) if (d < len(path) and key == path[d].key) or key not in o.__dict__ else "loaded"
                        if d < len(path) and key == path[d].key and r == "loaded":
                            v = getattr(o, key)
                            for c in (v if isinstance(v, list) else ([v] if v is not None else [])):
                                nxt.append((c, d + 1))
                        seen.setdefault(k, set()).add(r)
                level = nxt
                depth += 1
            for k in sorted(seen):
                print("    depth %d %s.%s: %s" % (k[0], k[1], k[2], "/".join(sorted(seen[k]))))

    print("  -- raiseall_author_books: raiseload('*')")
    survey(oracle.q_authors, [raiseload("*")], [Author.books])
    print("  -- raiseall_selectin_author_books_publisher: selectinload(Author.books).raiseload('*'), raiseload('*')")
    survey(oracle.q_authors, [selectinload(Author.books).raiseload("*"), raiseload("*")], [Author.books, Book.publisher])
    print("  -- same without the chained .raiseload('*') (NOT loadstar's meaning)")
    survey(oracle.q_authors, [selectinload(Author.books), raiseload("*")], [Author.books, Book.publisher])
    print("  -- raiseall_joined_book_author_profile: joinedload(Book.author).raiseload('*'), raiseload('*')")
    survey(oracle.q_books, [joinedload(Book.author).raiseload("*"), raiseload("*")], [Book.author, Author.profile])
    print("  -- same without the chained .raiseload('*') (NOT loadstar's meaning)")
    survey(oracle.q_books, [joinedload(Book.author), raiseload("*")], [Book.author, Author.profile])
    print("  -- depth 2, unbound raiseload('*') only: selectinload(Employee.reports).selectinload(Employee.reports)")
    survey(oracle.q_employees,
           [selectinload(Employee.reports).selectinload(Employee.reports), raiseload("*")],
           [Employee.reports, Employee.reports])
    print("  -- control: the same without raiseload('*')")
    survey(oracle.q_employees,
           [selectinload(Employee.reports).selectinload(Employee.reports)],
           [Employee.reports, Employee.reports])
    return 0


if __name__ == "__main__":
    sys.exit(main())
