#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Differential test: loadstar vs SQLAlchemy 1.4 on one seeded data set.
# Usage: run.sh LOADSTAR_SIDE_EXE SEED WORKDIR
# Env:   PYTHON  interpreter with SQLAlchemy 1.4 (default /usr/bin/python3)
# Exit:  compare.py's exit code (0 = identical); 2 if a step before it fails.
set -u
if [ $# -ne 3 ]; then
    echo "usage: $0 LOADSTAR_SIDE_EXE SEED WORKDIR" >&2
    exit 2
fi
exe=$1 seed=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-/usr/bin/python3}

mkdir -p "$work" || exit 2
db="$work/seed$seed.db"
oracle_out="$work/oracle.txt"
loadstar_out="$work/loadstar.txt"
rm -f "$oracle_out" "$loadstar_out"

"$py" "$here/gen_data.py" "$seed" "$db" || { echo "run.sh: gen_data.py failed" >&2; exit 2; }
"$py" "$here/oracle.py" "$db" --scenarios "$here/scenarios.txt" > "$oracle_out" \
    || { echo "run.sh: oracle.py failed" >&2; exit 2; }

"$exe" "$db" "$here/scenarios.txt" > "$loadstar_out"
exe_rc=$?
if [ $exe_rc -ne 0 ]; then
    echo "run.sh: $exe exited with $exe_rc (comparing what it printed anyway)" >&2
fi

"$py" "$here/compare.py" "$oracle_out" "$loadstar_out" --fewer-ok "$here/fewer_statements.txt"
rc=$?
echo "run.sh: seed $seed: oracle=$oracle_out loadstar=$loadstar_out db=$db"
if [ $rc -eq 0 ] && [ $exe_rc -ne 0 ]; then
    rc=2
fi
exit $rc
