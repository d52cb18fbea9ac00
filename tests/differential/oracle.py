#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""SQLAlchemy 1.4 oracle for the loadstar differential test.

Usage: /usr/bin/python3 oracle.py DB [--scenarios FILE] [--only NAME...] [--echo]

DB is a gen_data.py SQLite file or an SQLAlchemy URL (PostgreSQL: see load_pg.py).

Runs every scenario named in scenarios.txt (next to this file unless
--scenarios is given), in that order, each in a fresh Session, and prints the
loaded object graph plus the number of statements executed (see README.md in
this directory for the exact output format). --echo writes each statement's
SQL and parameters to stderr, prefixed with the scenario name.

Must run under Debian's /usr/bin/python3, which has SQLAlchemy 1.4.
"""
import argparse
import os
import sys

import sqlalchemy
from sqlalchemy import Column, ForeignKey, Integer, Table, Text, create_engine, event, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import (
    Session,
    declarative_base,
    joinedload,
    lazyload,
    raiseload,
    relationship,
    selectinload,
    subqueryload,
)

if not sqlalchemy.__version__.startswith("1.4."):
    sys.exit("oracle.py: expected SQLAlchemy 1.4, found %s (%s)" % (sqlalchemy.__version__, sys.executable))

Base = declarative_base()

book_tags = Table(
    "book_tags",
    Base.metadata,
    Column("book_id", Integer, ForeignKey("books.id"), primary_key=True),
    Column("tag_id", Integer, ForeignKey("tags.id"), primary_key=True),
)


class Author(Base):
    __tablename__ = "authors"
    id = Column(Integer, primary_key=True)
    name = Column(Text, nullable=False)
    email = Column(Text, unique=True, nullable=True)
    books = relationship("Book", back_populates="author", lazy="select")
    profile = relationship("Profile", back_populates="author", uselist=False, lazy="select")


class Publisher(Base):
    __tablename__ = "publishers"
    id = Column(Integer, primary_key=True)
    name = Column(Text, nullable=False)


class Book(Base):
    __tablename__ = "books"
    id = Column(Integer, primary_key=True)
    title = Column(Text, nullable=False)
    author_id = Column(Integer, ForeignKey("authors.id"), nullable=False, index=True)
    publisher_id = Column(Integer, ForeignKey("publishers.id"), nullable=True, index=True)
    author = relationship("Author", back_populates="books", lazy="select")
    publisher = relationship("Publisher", lazy="select")
    tags = relationship("Tag", secondary=book_tags, lazy="select")


class Tag(Base):
    __tablename__ = "tags"
    id = Column(Integer, primary_key=True)
    label = Column(Text, nullable=False)


class Profile(Base):
    __tablename__ = "profiles"
    id = Column(Integer, primary_key=True)
    author_id = Column(Integer, ForeignKey("authors.id"), nullable=False, unique=True, index=True)
    bio = Column(Text, nullable=False)
    author = relationship("Author", back_populates="profile", lazy="select")


class Employee(Base):
    __tablename__ = "employees"
    id = Column(Integer, primary_key=True)
    name = Column(Text, nullable=False)
    manager_id = Column(Integer, ForeignKey("employees.id"), nullable=True, index=True)
    manager = relationship("Employee", remote_side=[id], back_populates="reports", lazy="select")
    reports = relationship("Employee", back_populates="manager", lazy="select")


# Columns in DDL order, primary key excluded.
COLUMNS = {
    Author: ("name", "email"),
    Publisher: ("name",),
    Book: ("title", "author_id", "publisher_id"),
    Tag: ("label",),
    Profile: ("author_id", "bio"),
    Employee: ("name", "manager_id"),
}

# ---------------------------------------------------------------------------
# Root queries


def q_authors():
    return select(Author).order_by(Author.id)


def q_authors_page():
    return (
        select(Author)
        .where(Author.id > 7, Author.name.like("%e%"))
        .order_by(Author.id.desc())
        .limit(40)
        .offset(5)
    )


def q_books():
    return select(Book).order_by(Book.id)


def q_books_page():
    return select(Book).where(Book.id > 3).order_by(Book.title, Book.id).limit(60).offset(20)


def q_employees():
    return select(Employee).order_by(Employee.id)


ROOTS = {
    "authors": q_authors,
    "authors_page": q_authors_page,
    "books": q_books,
    "books_page": q_books_page,
    "employees": q_employees,
}

STRATEGIES = {
    "lazy": lazyload,
    "joined": joinedload,
    "selectin": selectinload,
    "subquery": subqueryload,
    "raise": raiseload,
}

# name suffix -> (root query, relationship path)
SINGLE = {
    "author_books": ("authors", [Author.books]),
    "author_books_page": ("authors_page", [Author.books]),
    "book_author": ("books", [Book.author]),
    "book_publisher": ("books", [Book.publisher]),
    "book_publisher_page": ("books_page", [Book.publisher]),
    "book_tags": ("books", [Book.tags]),
    "book_tags_page": ("books_page", [Book.tags]),
    "author_profile": ("authors", [Author.profile]),
    "employee_reports": ("employees", [Employee.reports]),
    "employee_manager": ("employees", [Employee.manager]),
}


def build_scenarios():
    """name -> (root name, callable returning the options list, relationship path)."""
    sc = {}
    for sname, strat in STRATEGIES.items():
        for suffix, (root, path) in SINGLE.items():
            rel = path[0]
            sc["%s_%s" % (sname, suffix)] = (root, (lambda strat=strat, rel=rel: [strat(rel)]), path)

    def nested(root, outer, inner, r1, r2):
        # outer(r1).<inner>(r2), e.g. selectinload(Author.books).joinedload(Book.publisher)
        return (root, lambda: [getattr(outer(r1), inner.__name__)(r2)], [r1, r2])

    sc["selectin_selectin_author_books_tags"] = nested("authors", selectinload, selectinload, Author.books, Book.tags)
    sc["joined_selectin_author_books_tags"] = nested("authors", joinedload, selectinload, Author.books, Book.tags)
    sc["subquery_joined_author_books_publisher"] = nested("authors", subqueryload, joinedload, Author.books, Book.publisher)
    sc["selectin_lazy_author_books_publisher"] = nested("authors", selectinload, lazyload, Author.books, Book.publisher)
    sc["selectin_joined_author_books_publisher_page"] = nested(
        "authors_page", selectinload, joinedload, Author.books, Book.publisher)
    sc["joined_joined_book_author_profile"] = nested("books", joinedload, joinedload, Book.author, Author.profile)
    sc["subquery_subquery_author_books_tags"] = nested("authors", subqueryload, subqueryload, Author.books, Book.tags)
    sc["selectin_selectin_employee_reports_reports"] = nested(
        "employees", selectinload, selectinload, Employee.reports, Employee.reports)

    # loadstar's raiseload_all: every relationship, at any depth, that no other
    # option names refuses to load.  SQLAlchemy: raiseload('*') at the root and
    # .raiseload('*') chained under every named path.
    sc["raiseall_author_books"] = ("authors", lambda: [raiseload("*")], [Author.books])
    sc["raiseall_selectin_author_books_publisher"] = (
        "authors", lambda: [selectinload(Author.books).raiseload("*"), raiseload("*")],
        [Author.books, Book.publisher])
    sc["raiseall_joined_book_author_profile"] = (
        "books", lambda: [joinedload(Book.author).raiseload("*"), raiseload("*")],
        [Book.author, Author.profile])
    return sc


SCENARIOS = build_scenarios()

# ---------------------------------------------------------------------------
# Dumping


def fmt_value(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        raise TypeError("unexpected bool")
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return "x" + v.encode("utf-8").hex()
    raise TypeError("unexpected value %r" % (v,))


def object_line(obj, depth):
    cls = type(obj)
    cols = " ".join("%s=%s" % (c, fmt_value(getattr(obj, c))) for c in COLUMNS[cls])
    return "%s%s %d%s" % ("  " * depth, cls.__name__, obj.id, (" " + cols) if cols else "")


def is_raise_error(e):
    return "lazy='raise'" in str(e)


def dump(obj, path, depth, out):
    out.append(object_line(obj, depth))
    if not path:
        return
    rel = path[0]
    ind = "  " * (depth + 1)
    try:
        value = getattr(obj, rel.key)
    except sa_exc.InvalidRequestError as e:
        if not is_raise_error(e):
            raise
        out.append("%s.%s RAISE" % (ind, rel.key))
        return
    out.append("%s.%s" % (ind, rel.key))
    if rel.property.uselist:
        for child in sorted(value, key=lambda o: o.id):
            dump(child, path[1:], depth + 2, out)
    elif value is None:
        out.append("%sNONE" % ("  " * (depth + 2)))
    else:
        dump(value, path[1:], depth + 2, out)


def run_scenario(engine, name, echo):
    root, options, path = SCENARIOS[name]
    counter = {"n": 0, "on": False}

    def before(conn, cursor, statement, parameters, context, executemany):
        if counter["on"]:
            counter["n"] += 1
            if echo:
                sys.stderr.write("[%s] %s\n    %r\n" % (name, statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    out = ["# " + name]
    try:
        with Session(engine, future=True) as session:
            counter["on"] = True
            stmt = ROOTS[root]().options(*options())
            objs = session.execute(stmt).scalars().unique().all()
            for obj in objs:
                dump(obj, path, 0, out)
            counter["on"] = False
    finally:
        event.remove(engine, "before_cursor_execute", before)
    out.append("= statements %d" % counter["n"])
    return out


def read_names(path):
    with open(path, encoding="utf-8") as f:
        names = [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        sys.exit("oracle.py: unknown scenarios in %s: %s" % (path, " ".join(unknown)))
    if len(set(names)) != len(names):
        sys.exit("oracle.py: duplicate scenario names in %s" % path)
    return names


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--scenarios", default=os.path.join(here, "scenarios.txt"))
    ap.add_argument("--only", nargs="+")
    ap.add_argument("--echo", action="store_true")
    args = ap.parse_args()
    # DB is an SQLite file, or an SQLAlchemy URL ("postgresql+psycopg2://...", load_pg.py).
    is_url = "://" in args.db
    if not is_url and not os.path.exists(args.db):
        sys.exit("oracle.py: no such database: %s" % args.db)

    names = read_names(args.scenarios)
    if not args.only:
        missing = [n for n in SCENARIOS if n not in names]
        if missing:
            sys.exit("oracle.py: scenarios defined but not listed in %s: %s" % (args.scenarios, " ".join(missing)))
    else:
        bad = [n for n in args.only if n not in names]
        if bad:
            sys.exit("oracle.py: not in %s: %s" % (args.scenarios, " ".join(bad)))
        names = [n for n in names if n in args.only]

    engine = create_engine(args.db if is_url else "sqlite:///" + os.path.abspath(args.db), future=True)
    with engine.connect() as conn:  # first-connect dialect probing happens outside any count
        conn.exec_driver_sql("SELECT 1").all()

    w = sys.stdout
    for name in names:
        for line in run_scenario(engine, name, args.echo):
            w.write(line)
            w.write("\n")
    w.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
