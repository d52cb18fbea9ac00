#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Compile cost measured like speed: compiles each TU of benchmarks/compile_time/ with
#   g++-12 -O2 -std=c++20 -c (no ccache, output discarded)
# and reports CPU seconds (user + sys) and peak RSS (GNU time), each also as a ratio to
# handwritten.cpp (the same program by hand against sqlite3) compiled in the same run.
#
#   benchmarks/compile_time.sh [--runs N] [--out FILE.md] [--time-report DIR] [TU...]
#
#   --runs N          compilations of each TU; the median CPU and median peak RSS are reported
#                     (default 1; COMPILE_TIME_RUNS)
#   --out FILE        also write the table there (markdown)
#   --time-report DIR also compile each TU once with -ftime-report into DIR/<tu>.txt
#   TU...             a subset (core_only headers_only one_query application); handwritten always runs
#   CXX=g++-12        the compiler; CXXFLAGS_EXTRA="..." more flags (e.g. -DNDEBUG)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

runs=${COMPILE_TIME_RUNS:-1}
out=
report_dir=
tus=()
while (($#)); do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --time-report) report_dir=$2; shift 2 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
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

declare -A cpu rss
for tu in "${tus[@]}"; do
    src=$dir/$tu.cpp
    [[ -f $src ]] || { echo "compile_time.sh: no $src" >&2; exit 1; }
    : >"$tmp/$tu.cpu"; : >"$tmp/$tu.rss"
    for ((i = 0; i < runs; i++)); do
        if ! /usr/bin/time -o "$tmp/time" -f '%U %S %M' "$cxx" "${flags[@]}" -c "$src" -o /dev/null 2>"$tmp/err"; then
            cat "$tmp/err" >&2
            echo "compile_time.sh: $src does not compile" >&2
            exit 1
        fi
        read -r user sys kb <"$tmp/time"
        awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.2f\n", u + s}' >>"$tmp/$tu.cpu"
        awk -v k="$kb" 'BEGIN {printf "%.0f\n", k / 1024}' >>"$tmp/$tu.rss"
    done
    cpu[$tu]=$(median <"$tmp/$tu.cpu")
    rss[$tu]=$(median <"$tmp/$tu.rss")
    echo "$tu: ${cpu[$tu]} s CPU, ${rss[$tu]} MB peak ($(paste -sd' ' "$tmp/$tu.cpu") s)" >&2
    if [[ -n $report_dir ]]; then
        mkdir -p "$report_dir"
        "$cxx" "${flags[@]}" -ftime-report -c "$src" -o /dev/null 2>"$report_dir/$tu.txt" || true
    fi
done

{
    echo "Compile cost, \`$("$cxx" --version | head -1)\`, \`${flags[*]} -c\`, median of $runs run(s), $(date -u +%Y-%m-%d) at $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$( [[ -n $(git status --porcelain -- include 2>/dev/null) ]] && echo ' (uncommitted changes under include/)'):"
    echo
    echo "| TU | CPU s | peak MB | CPU / hand-written | peak / hand-written |"
    echo "|---|---:|---:|---:|---:|"
    for tu in "${tus[@]}"; do
        awk -v t="$tu" -v c="${cpu[$tu]}" -v r="${rss[$tu]}" -v c0="${cpu[handwritten]}" -v r0="${rss[handwritten]}" \
            'BEGIN {printf "| %s | %.2f | %d | %.1fx | %.1fx |\n", t, c, r, c / c0, r / r0}'
    done
} | tee "${out:-/dev/null}"
