#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Compile cost measured like speed: compiles each TU of benchmarks/compile_time/ with
#   g++-12 -O2 -std=c++20 -c (no ccache, output discarded)
# and reports CPU seconds (user + sys) and peak RSS (GNU time), each also as a ratio to
# handwritten.cpp (the same program by hand against sqlite3) compiled in the same run.
#
#   benchmarks/compile_time.sh [--runs N] [--separate] [--out FILE.md] [--time-report DIR] [TU...]
#
#   --runs N          compilations of each TU; the median CPU and median peak RSS are reported
#                     (default 1; COMPILE_TIME_RUNS)
#   --separate        also compile each TU with -DLOADSTAR_SEPARATE_COMPILATION (rows "<tu> (separate)"),
#                     and the program's one-time source of that mode (<loadstar/src.hpp> and
#                     <loadstar/sqlite/src.hpp>: row "src, once per program")
#   --out FILE        also write the table there (markdown)
#   --time-report DIR also compile each TU once with -ftime-report into DIR/<tu>.txt
#   TU...             a subset (core_only headers_only one_query application); handwritten always runs
#   CXX=g++-12        the compiler; CXXFLAGS_EXTRA="..." more flags (e.g. -DNDEBUG)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

runs=${COMPILE_TIME_RUNS:-1}
out=
report_dir=
separate=0
tus=()
while (($#)); do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --time-report) report_dir=$2; shift 2 ;;
        --separate) separate=1; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) tus+=("$1"); shift ;;
    esac
done
((${#tus[@]})) || tus=(core_only headers_only one_query application)
tus=(handwritten "${tus[@]}")

cxx=${CXX:-g++-12}
command -v "$cxx" >/dev/null || { echo "compile_time.sh: $cxx not found" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "compile_time.sh: GNU time (/usr/bin/time) not found" >&2; exit 1; }
flags=(-O2 -std=c++20 -Iinclude ${CXXFLAGS_EXTRA:-})
dir=benchmarks/compile_time
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

tmp_src=$tmp/separate_src.cpp
printf '#include <loadstar/src.hpp>\n#include <loadstar/sqlite/src.hpp>\n' >"$tmp_src"
# Each row: a name, its source, and extra flags.
rows=()
declare -A row_src row_flags
for tu in "${tus[@]}"; do
    rows+=("$tu"); row_src[$tu]=$dir/$tu.cpp; row_flags[$tu]=
done
if ((separate)); then
    for tu in "${tus[@]}"; do
        [[ $tu == handwritten ]] && continue
        name="$tu (separate)"
        rows+=("$name"); row_src[$name]=$dir/$tu.cpp; row_flags[$name]=-DLOADSTAR_SEPARATE_COMPILATION
    done
    name="src, once per program"
    rows+=("$name"); row_src[$name]=$tmp_src; row_flags[$name]=-DLOADSTAR_SEPARATE_COMPILATION
fi

declare -A cpu rss
for row in "${rows[@]}"; do
    src=${row_src[$row]}
    key=${row//[^a-z_]/_}
    [[ -f $src ]] || { echo "compile_time.sh: no $src" >&2; exit 1; }
    : >"$tmp/$key.cpu"; : >"$tmp/$key.rss"
    for ((i = 0; i < runs; i++)); do
        # shellcheck disable=SC2086  # row_flags is one flag or none
        if ! /usr/bin/time -o "$tmp/time" -f '%U %S %M' "$cxx" "${flags[@]}" ${row_flags[$row]} -c "$src" -o /dev/null 2>"$tmp/err"; then
            cat "$tmp/err" >&2
            echo "compile_time.sh: $src does not compile" >&2
            exit 1
        fi
        read -r user sys kb <"$tmp/time"
        awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.2f\n", u + s}' >>"$tmp/$key.cpu"
        awk -v k="$kb" 'BEGIN {printf "%.0f\n", k / 1024}' >>"$tmp/$key.rss"
    done
    cpu[$row]=$(median <"$tmp/$key.cpu")
    rss[$row]=$(median <"$tmp/$key.rss")
    echo "$row: ${cpu[$row]} s CPU, ${rss[$row]} MB peak ($(paste -sd' ' "$tmp/$key.cpu") s)" >&2
    if [[ -n $report_dir ]]; then
        mkdir -p "$report_dir"
        # shellcheck disable=SC2086
        "$cxx" "${flags[@]}" ${row_flags[$row]} -ftime-report -c "$src" -o /dev/null 2>"$report_dir/$key.txt" || true
    fi
done

{
    echo "Compile cost, \`$("$cxx" --version | head -1)\`, \`${flags[*]} -c\`, median of $runs run(s), $(date -u +%Y-%m-%d) at $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$( [[ -n $(git status --porcelain -- include 2>/dev/null) ]] && echo ' (uncommitted changes under include/)'):"
    echo
    echo "| TU | CPU s | peak MB | CPU / hand-written | peak / hand-written |"
    echo "|---|---:|---:|---:|---:|"
    for tu in "${rows[@]}"; do
        awk -v t="$tu" -v c="${cpu[$tu]}" -v r="${rss[$tu]}" -v c0="${cpu[handwritten]}" -v r0="${rss[handwritten]}" \
            'BEGIN {printf "| %s | %.2f | %d | %.1fx | %.1fx |\n", t, c, r, c / c0, r / r0}'
    done
} | tee "${out:-/dev/null}"
