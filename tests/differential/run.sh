#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Differential test: loadstar vs SQLAlchemy 1.4 on one seeded data set.
# Usage: run.sh LOADSTAR_SIDE_EXE SEED WORKDIR [postgres]
# Env:   PYTHON  interpreter with SQLAlchemy 1.4 (default /usr/bin/python3)
#        LOADSTAR_PG  with `postgres`: the server (libpq conninfo). The SQLite data set is
#        copied into a fresh schema (load_pg.py, psycopg2), both sides run on it, and
#        loadstar may issue fewer statements than SQLAlchemy (compare.py --at-most).
# Exit:  compare.py's exit code (0 = identical); 2 if a step before it fails; 77 (skipped)
#        with `postgres` when LOADSTAR_PG is unset outside CI (under CI=true that is 2).
set -u
if [ $# -ne 3 ] && ! { [ $# -eq 4 ] && [ "$4" = postgres ]; }; then
    echo "usage: $0 LOADSTAR_SIDE_EXE SEED WORKDIR [postgres]" >&2
    exit 2
fi
exe=$1 seed=$2 work=$3 backend=${4:-sqlite}
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-/usr/bin/python3}
if [ "$backend" = postgres ] && [ -z "${LOADSTAR_PG:-}" ]; then
    if [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; then
        echo "run.sh: LOADSTAR_PG is not set, and under CI the PostgreSQL tests must run" >&2
        exit 2
    fi
    echo "run.sh: SKIPPED: LOADSTAR_PG is not set"
    exit 77
fi

mkdir -p "$work" || exit 2
db="$work/seed$seed.db"
oracle_out="$work/oracle.txt"
loadstar_out="$work/loadstar.txt"
rm -f "$oracle_out" "$loadstar_out"

"$py" "$here/gen_data.py" "$seed" "$db" || { echo "run.sh: gen_data.py failed" >&2; exit 2; }
oracle_db=$db loadstar_db=$db compare_mode=""
if [ "$backend" = postgres ]; then
    schema="ls_diff_seed${seed}_$$"
    urls=$("$py" "$here/load_pg.py" "$db" "$schema") || { echo "run.sh: load_pg.py failed" >&2; exit 2; }
    trap '"$py" "$here/load_pg.py" --drop "$schema" >/dev/null 2>&1' EXIT
    oracle_db=$(printf '%s\n' "$urls" | sed -n 1p)
    loadstar_db=$(printf '%s\n' "$urls" | sed -n 2p)
    compare_mode=--at-most
fi
"$py" "$here/oracle.py" "$oracle_db" --scenarios "$here/scenarios.txt" > "$oracle_out" \
    || { echo "run.sh: oracle.py failed" >&2; exit 2; }

"$exe" "$loadstar_db" "$here/scenarios.txt" > "$loadstar_out"
exe_rc=$?
if [ $exe_rc -ne 0 ]; then
    echo "run.sh: $exe exited with $exe_rc (comparing what it printed anyway)" >&2
fi

"$py" "$here/compare.py" "$oracle_out" "$loadstar_out" --fewer-ok "$here/fewer_statements.txt" $compare_mode
rc=$?
echo "run.sh: seed $seed ($backend): oracle=$oracle_out loadstar=$loadstar_out db=$db"
if [ $rc -eq 0 ] && [ $exe_rc -ne 0 ]; then
    rc=2
fi
exit $rc
