#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Copy a gen_data.py SQLite file into a fresh PostgreSQL schema, for the differential test
on PostgreSQL.

Usage: /usr/bin/python3 load_pg.py DB.sqlite SCHEMA          (load; prints two URLs)
       /usr/bin/python3 load_pg.py --drop SCHEMA             (drop the schema)

The server is LOADSTAR_PG (a libpq conninfo or URI). SCHEMA is dropped if it exists, then
created with gen_data.py's DDL (the same text: it is valid PostgreSQL) and every row of DB.
On success prints, one per line:
  the SQLAlchemy URL   postgresql+psycopg2://...?options=-csearch_path%3DSCHEMA
  the loadstar URL     postgresql://...?options=-csearch_path%3DSCHEMA
Both put SCHEMA first on the search path of every connection they open.
"""
import os
import sqlite3
import sys
import urllib.parse

import psycopg2
import psycopg2.extensions
import psycopg2.extras

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_data  # noqa: E402  (the DDL)

TABLES = ["authors", "publishers", "books", "tags", "book_tags", "profiles", "employees"]


def conninfo():
    dsn = os.environ.get("LOADSTAR_PG", "")
    if not dsn:
        sys.exit("load_pg.py: LOADSTAR_PG is not set")
    return dsn


def urls(schema):
    p = psycopg2.extensions.parse_dsn(conninfo())
    user = urllib.parse.quote(p.get("user", "postgres"), safe="")
    pw = p.get("password")
    auth = user + (":" + urllib.parse.quote(pw, safe="") if pw else "")
    host = p.get("host", p.get("hostaddr", "localhost"))
    if ":" in host:  # IPv6 literal
        host = "[" + host + "]"
    port = p.get("port", "5432")
    db = urllib.parse.quote(p.get("dbname", "postgres"), safe="")
    query = "options=" + urllib.parse.quote("-csearch_path=" + schema, safe="")
    base = "%s@%s:%s/%s?%s" % (auth, host, port, db, query)
    return "postgresql+psycopg2://" + base, "postgresql://" + base


def main(argv):
    if len(argv) == 3 and argv[1] == "--drop":
        con = psycopg2.connect(conninfo())
        con.autocommit = True
        con.cursor().execute('DROP SCHEMA IF EXISTS "%s" CASCADE' % argv[2])
        con.close()
        return 0
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    db, schema = argv[1], argv[2]
    src = sqlite3.connect(db)
    con = psycopg2.connect(conninfo())
    cur = con.cursor()
    cur.execute('DROP SCHEMA IF EXISTS "%s" CASCADE' % schema)
    cur.execute('CREATE SCHEMA "%s"' % schema)
    cur.execute('SET search_path = "%s"' % schema)
    cur.execute(gen_data.DDL)
    for table in TABLES:  # parents first: the foreign keys are checked row by row
        rows = src.execute("SELECT * FROM %s" % table).fetchall()
        cols = [d[0] for d in src.execute("SELECT * FROM %s LIMIT 0" % table).description]
        if rows:
            psycopg2.extras.execute_values(
                cur, "INSERT INTO %s (%s) VALUES %%s" % (table, ", ".join(cols)), rows, page_size=1000)
        cur.execute("SELECT count(*) FROM %s" % table)
        if cur.fetchone()[0] != len(rows):
            sys.exit("load_pg.py: %s: row count differs after the copy" % table)
    cur.execute("ANALYZE")
    con.commit()
    con.close()
    src.close()
    for url in urls(schema):
        print(url)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
