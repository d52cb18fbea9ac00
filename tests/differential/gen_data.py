#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Seeded random data set for the loadstar differential test.

Usage: gen_data.py SEED OUT.db

Writes a fresh SQLite file (an existing OUT.db is replaced) with the fixed
schema below. Uses only the standard library, so any Python 3 will do; the
same SEED always gives the same file contents (random.Random(SEED), no
set/dict iteration order or hashing involved).
"""
import os
import random
import sqlite3
import sys

DDL = """
CREATE TABLE authors (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT UNIQUE NULL
);
CREATE TABLE publishers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE books (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    author_id INTEGER NOT NULL REFERENCES authors(id),
    publisher_id INTEGER NULL REFERENCES publishers(id)
);
CREATE TABLE tags (
    id INTEGER PRIMARY KEY,
    label TEXT NOT NULL
);
CREATE TABLE book_tags (
    book_id INTEGER NOT NULL REFERENCES books(id),
    tag_id INTEGER NOT NULL REFERENCES tags(id),
    PRIMARY KEY (book_id, tag_id)
);
CREATE TABLE profiles (
    id INTEGER PRIMARY KEY,
    author_id INTEGER NOT NULL UNIQUE REFERENCES authors(id),
    bio TEXT NOT NULL
);
CREATE TABLE employees (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    manager_id INTEGER NULL REFERENCES employees(id)
);
CREATE INDEX ix_books_author_id ON books(author_id);
CREATE INDEX ix_books_publisher_id ON books(publisher_id);
CREATE INDEX ix_book_tags_book_id ON book_tags(book_id);
CREATE INDEX ix_book_tags_tag_id ON book_tags(tag_id);
CREATE INDEX ix_profiles_author_id ON profiles(author_id);
CREATE INDEX ix_employees_manager_id ON employees(manager_id);
"""

# Awkward fragments: quotes, SQL injection, LIKE metacharacters, backslashes,
# multi-byte UTF-8 (2, 3 and 4 bytes, combining marks), whitespace.
AWKWARD = [
    "O'Brien",
    "'",
    "''",
    'say "hi"',
    '"',
    "'; DROP TABLE authors; --",
    "Robert'); DROP TABLE books;--",
    "Zoë",
    "François",
    "Ærøskøbing",
    "Ñandú",
    "e\u0301",            # e + combining acute
    "Straße",
    "Ελένη",
    "Дмитрий",
    "李小龙",
    "東京の本",
    "한국어",
    "😀",
    "👩‍💻",               # ZWJ sequence
    "🇪🇸",
    "100%",
    "%",
    "_",
    "under_score",
    "%e%",
    "back\\slash",
    "\\",
    "C:\\path\\to",
    "\\n not a newline",
    "tab\there",
    "line\nbreak",
    "  leading",
    "trailing  ",
    " ",
    "NULL",
    "null",
    "x00",
    "?",
    "$1",
    ":name",
    "--",
    "/* c */",
]

PLAIN = [
    "Anne", "Eve", "Bob", "Lee", "Mary", "Peter", "Helen", "Tom", "Ian",
    "Grace", "Alan", "Edsger", "Ada", "Linus", "Ken", "Dennis", "Barbara",
    "Frances", "Niklaus", "John", "Donald", "Leslie", "Margaret", "Tony",
    "SMITH", "JONES", "EVANS", "Moore", "Brown", "Wu", "Kim", "Ng",
]

WORDS = [
    "the", "of", "and", "dragon", "river", "night", "garden", "code",
    "secret", "history", "a", "on", "Émile", "über", "café", "naïve",
    "war", "peace", "cat", "sea", "stars", "SQL", "O'Neil's", "\"quoted\"",
]


def awkward_text(rng, plain_pool, max_parts=3):
    """A text value: sometimes empty, sometimes pure awkwardness, often mixed."""
    r = rng.random()
    if r < 0.04:
        return ""
    if r < 0.20:
        return rng.choice(AWKWARD)
    parts = []
    for _ in range(rng.randint(1, max_parts)):
        parts.append(rng.choice(AWKWARD) if rng.random() < 0.3 else rng.choice(plain_pool))
    sep = rng.choice([" ", " ", " ", "", "-", "  "])
    s = sep.join(parts)
    if rng.random() < 0.05:
        s = " " + s
    if rng.random() < 0.05:
        s = s + " "
    return s


def spread_ids(rng, n, factor):
    """n distinct positive ids with gaps, in a random (insertion) order."""
    ids = rng.sample(range(1, int(n * factor) + 2), n)
    rng.shuffle(ids)
    return ids


def check_utf8(s):
    s.encode("utf-8")  # raises on lone surrogates
    return s


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: gen_data.py SEED OUT.db\n")
        return 2
    seed = int(sys.argv[1])
    out = sys.argv[2]
    rng = random.Random(seed)

    for suffix in ("", "-journal", "-wal", "-shm"):
        if os.path.exists(out + suffix):
            os.remove(out + suffix)

    con = sqlite3.connect(out)
    con.executescript(DDL)

    # --- authors -----------------------------------------------------------
    n_authors = rng.randint(1100, 1300)
    author_ids = spread_ids(rng, n_authors, 1.6)
    authors = []
    for i, aid in enumerate(author_ids):
        name = awkward_text(rng, PLAIN)
        r = rng.random()
        if r < 0.25:
            email = None
        else:
            local = awkward_text(rng, PLAIN, 2)
            # unique by construction: the running index is part of it
            email = "%s.%d@%s" % (local, i, rng.choice(["example.com", "exämple.org", "例え.jp", "x_y%z.net"]))
            if r < 0.27:
                email = str(i) + rng.choice(AWKWARD)  # still unique: index prefix + suffix
        authors.append((aid, check_utf8(name), email))
    con.executemany("INSERT INTO authors(id, name, email) VALUES (?, ?, ?)", authors)

    # --- publishers --------------------------------------------------------
    n_pub = rng.randint(36, 44)
    pub_ids = spread_ids(rng, n_pub, 3.0)
    pubs = [(pid, check_utf8(awkward_text(rng, WORDS) + " Press" * rng.randint(0, 1))) for pid in pub_ids]
    con.executemany("INSERT INTO publishers(id, name) VALUES (?, ?)", pubs)

    # --- books -------------------------------------------------------------
    per_author = []
    for aid in author_ids:
        r = rng.random()
        k = 0 if r < 0.15 else rng.randint(1, 6)
        per_author.append((aid, k))
    n_books = sum(k for _, k in per_author)
    book_ids = spread_ids(rng, n_books, 1.3)
    # books of one author are not contiguous in id order
    owners = [aid for aid, k in per_author for _ in range(k)]
    rng.shuffle(owners)
    titles_so_far = []
    books = []
    for bid, aid in zip(book_ids, owners):
        if titles_so_far and rng.random() < 0.08:
            title = rng.choice(titles_so_far)  # duplicate titles: ORDER BY title, id ties
        else:
            title = awkward_text(rng, WORDS, 4)
        titles_so_far.append(title)
        pub = None if rng.random() < 0.25 else rng.choice(pub_ids)
        books.append((bid, check_utf8(title), aid, pub))
    con.executemany("INSERT INTO books(id, title, author_id, publisher_id) VALUES (?, ?, ?, ?)", books)

    # --- tags --------------------------------------------------------------
    n_tags = rng.randint(27, 33)
    tag_ids = spread_ids(rng, n_tags, 2.0)
    tags = [(tid, check_utf8(awkward_text(rng, WORDS, 2))) for tid in tag_ids]
    con.executemany("INSERT INTO tags(id, label) VALUES (?, ?)", tags)

    links = []
    for bid, _, _, _ in books:
        for tid in rng.sample(tag_ids, rng.randint(0, 4)):
            links.append((bid, tid))
    rng.shuffle(links)
    con.executemany("INSERT INTO book_tags(book_id, tag_id) VALUES (?, ?)", links)

    # --- profiles (one-to-one, ~70% of authors) ------------------------------
    with_profile = [aid for aid in author_ids if rng.random() < 0.7]
    rng.shuffle(with_profile)
    prof_ids = spread_ids(rng, len(with_profile), 1.5)
    profiles = [(pid, aid, check_utf8(awkward_text(rng, WORDS, 5))) for pid, aid in zip(prof_ids, with_profile)]
    con.executemany("INSERT INTO profiles(id, author_id, bio) VALUES (?, ?, ?)", profiles)

    # --- employees (a forest) ----------------------------------------------
    n_emp = rng.randint(280, 320)
    emp_ids = spread_ids(rng, n_emp, 1.5)
    # emp_ids[i]'s manager is some emp_ids[j], j < i (so no cycles), or NULL;
    # ids are shuffled, so managers often have larger ids than their reports.
    employees = []
    for i, eid in enumerate(emp_ids):
        if i < 3 or rng.random() < 0.04:
            mgr = None
        else:
            # bias toward recent ones to get some depth, but keep wide fan-out too
            j = rng.randrange(i) if rng.random() < 0.5 else rng.randrange(max(0, i - 12), i)
            mgr = emp_ids[j]
        employees.append((eid, check_utf8(awkward_text(rng, PLAIN)), mgr))
    con.executemany("INSERT INTO employees(id, name, manager_id) VALUES (?, ?, ?)", employees)

    con.commit()
    con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
