#!/usr/bin/env bash
# Benchmark: `crashctl process` (in-process stackwalk, one shared symbol cache, rules,
# signature, store writes) vs `minidump-stackwalk --json` run once per dump as Socorro runs it
# (a process per dump, the raw crash as --evil-json, the same symbols path), at EQUAL
# parallelism: the peer runs under `xargs -P J`, crashctl with `-j J`.
#
# Three corpora, side by side:
#   testdata    the ../shared/testdata dumps repeated to N crashes, with the testdata symbols
#   firefox     firefox-small.dmp (a real Firefox dump, 778 KB, 301 modules) x NF
#   production  NG crashes from `crashctl generate`, against production-size symbols
#               (`generate --symbols-size SYMSIZE`: the main module every crash has frames in,
#               padded to SYMSIZE of FUNC/line/STACK records, as Firefox's xul is)
# For each: crashes/s (wall), CPU (user+sys of the whole process tree, /usr/bin/time) per
# crash, and peak RSS (the largest single process) for both sides; the two sides alternate
# (ROUNDS runs each, the peer first in odd rounds). With the production corpus crashctl also
# runs with `--symbol-cache-modules` of each value in CACHE_BOUNDS, to measure the memory bound.
#
# Usage: bench/process.sh                    (J=$(nproc) N=500 NF=100 NG=100 SYMSIZE=100M ROUNDS=1)
#        CORPORA="firefox" ROUNDS=3 bench/process.sh
#        CRASHCTL=/path/to/crashctl bench/process.sh       (another build; nothing is built)
# Needs: ../shared/testdata (dumps + symbols), /usr/bin/time, a release build (built here), and
# minidump-stackwalk 0.27 ($MINIDUMP_STACKWALK, .tools/bin/, or PATH; see docs/process.md).
set -euo pipefail
cd "$(dirname "$0")/.."

J=${J:-$(nproc)}
N=${N:-500}
NF=${NF:-100}
NG=${NG:-100}
SYMSIZE=${SYMSIZE:-100M}
ROUNDS=${ROUNDS:-1}
CORPORA=${CORPORA:-testdata firefox production}
CACHE_BOUNDS=${CACHE_BOUNDS:-6}
DATA=${TESTDATA:-../shared/testdata}
OUT=bench/out/process
GENSYMS=bench/out/process-symbols-$SYMSIZE # kept between runs: writing 300 MB takes a while
MDSW=${MINIDUMP_STACKWALK:-}
if [[ -z "$MDSW" ]]; then
    if [[ -x .tools/bin/minidump-stackwalk ]]; then MDSW=.tools/bin/minidump-stackwalk
    else MDSW=$(command -v minidump-stackwalk || true); fi
fi
[[ -d "$DATA/minidumps" ]] || { echo "bench: $DATA/minidumps is absent" >&2; exit 2; }
[[ -n "$MDSW" && -x "$MDSW" ]] || { echo "bench: minidump-stackwalk not found (set MINIDUMP_STACKWALK)" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "bench: /usr/bin/time is needed (CPU and peak RSS)" >&2; exit 2; }

if [[ -z ${CRASHCTL:-} ]]; then
    echo "== building crashctl (release)" >&2
    cargo build --release --quiet
    CRASHCTL=$PWD/target/release/crashctl
fi

# store_from DIR IDS DUMP...: a v1 store (as the store writes it) of the dumps repeated to
# as many crashes as IDS has lines
store_from() {
    local dir=$1 ids=$2 count=$3; shift 3
    local dumps=("$@") day i id
    day=$(date -u +%Y%m%d)
    mkdir -p "$dir/v1/raw_crash/$day" "$dir/v1/dump_names" "$dir/v1/dump"
    : > "$ids"
    for ((i = 0; i < count; i++)); do
        id=$(printf '%08x-0000-4000-8000-%06x%s' "$i" "$i" "${day:2}")
        printf '{"ProductName":"Firefox","Version":"140.0","uuid":"%s","submitted_timestamp":"%s"}' \
            "$id" "$(date -u +%Y-%m-%dT%H:%M:%S+00:00)" > "$dir/v1/raw_crash/$day/$id"
        echo '["upload_file_minidump"]' > "$dir/v1/dump_names/$id"
        cp "${dumps[$((i % ${#dumps[@]}))]}" "$dir/v1/dump/$id"
        echo "$id" >> "$ids"
    done
}

# args_for STORE IDS > FILE: one line per crash: output file, raw crash, dump
args_for() {
    local store=$1 id raw
    while read -r id; do
        raw=$(ls "$store"/v1/raw_crash/*/"$id")
        echo "$OUT/mdsw/$id.json $raw $store/v1/dump/$id"
    done < "$2"
}

# measure CMD...: runs under /usr/bin/time; sets WALL, CPU (user+sys s), KIB (largest process)
measure() {
    /usr/bin/time -f "%e %U %S %M" -o "$OUT/time.txt" "$@" >/dev/null 2>"$OUT/stderr.txt" || true
    # (the last line: time writes "Command exited with non-zero status" first when one did)
    read -r WALL user sys KIB < <(tail -n 1 "$OUT/time.txt")
    CPU=$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')
}

peer() { # $1 = args file, $2 = symbols
    rm -rf "$OUT/mdsw" && mkdir -p "$OUT/mdsw"
    export SYMS=$2
    # stdout captured to a file, as Socorro captures it (`--output-file` writes unbuffered: one
    # write(2) per JSON token, 90,000 for firefox-small, which would be unfair to the peer)
    # shellcheck disable=SC2016
    measure xargs -P "$J" -L 1 sh -c 'out=$1 raw=$2 dump=$3; exec "$0" --json --verbose=error \
        --evil-json "$raw" --symbols-path "$SYMS" "$dump" > "$out"' "$MDSW" < "$1"
}
ours() { # $1 = store, $2 = ids, $3 = symbols, rest = more crashctl options
    local store=$1 ids=$2 syms=$3; shift 3
    rm -rf "$store/v1/processed_crash"
    # shellcheck disable=SC2046
    measure "$CRASHCTL" process --quiet -j "$J" "$@" --store "$store" --symbols-path "$syms" -- $(cat "$ids")
}
row() { # name count wall cpu kib
    awk -v s="$1" -v n="$2" -v w="$3" -v c="$4" -v k="$5" \
        'BEGIN { printf "  %-44s %9.1f %12.2f %10d\n", s, n / w, c * 1000 / n, k / 1024 }'
}

rm -rf "$OUT" && mkdir -p "$OUT"
for corpus in $CORPORA; do
    case $corpus in
        testdata)
            store_from "$OUT/testdata" "$OUT/testdata.ids" "$N" "$DATA"/minidumps/*.dmp
            syms=$DATA/symbols count=$N ;;
        firefox)
            store_from "$OUT/firefox" "$OUT/firefox.ids" "$NF" "$DATA/minidumps/firefox-small.dmp"
            syms=$DATA/symbols count=$NF ;;
        production)
            if [[ ! -f $GENSYMS/.done ]]; then
                echo "== writing production-size symbols ($SYMSIZE main module) to $GENSYMS" >&2
                rm -rf "$GENSYMS"
                "$CRASHCTL" generate -n 0 --store "$OUT/unused" --symbols "$GENSYMS" --symbols-size "$SYMSIZE" --quiet
                touch "$GENSYMS/.done"
            fi
            "$CRASHCTL" generate -n "$NG" --seed 17 --store "$OUT/production" --quiet > "$OUT/production.ids"
            syms=$GENSYMS count=$NG ;;
        *) echo "bench: unknown corpus $corpus" >&2; exit 2 ;;
    esac
    args_for "$OUT/$corpus" "$OUT/$corpus.ids" > "$OUT/$corpus.args"
    sync
    echo "== $corpus: $count crashes, -j $J / xargs -P $J" >&2
    for ((round = 1; round <= ROUNDS; round++)); do
        if ((round % 2 == 1)); then
            peer "$OUT/$corpus.args" "$syms"; pw=$WALL pc=$CPU pk=$KIB
            ours "$OUT/$corpus" "$OUT/$corpus.ids" "$syms"; ow=$WALL oc=$CPU ok=$KIB
        else
            ours "$OUT/$corpus" "$OUT/$corpus.ids" "$syms"; ow=$WALL oc=$CPU ok=$KIB
            peer "$OUT/$corpus.args" "$syms"; pw=$WALL pc=$CPU pk=$KIB
        fi
        saved=$(ls "$OUT/$corpus/v1/processed_crash" 2>/dev/null | wc -l)
        outputs=$(find "$OUT/mdsw" -name '*.json' -size +0 | wc -l)
        echo "$corpus, round $round: $count crashes, J=$J, load average $(cut -d' ' -f1-3 /proc/loadavg)"
        echo "  (crashctl saved $saved processed crashes; minidump-stackwalk wrote $outputs outputs)"
        printf '  %-44s %9s %12s %10s\n' "" "crashes/s" "CPU ms/crash" "peak MiB"
        row "minidump-stackwalk (xargs -P $J)" "$count" "$pw" "$pc" "$pk"
        row "crashctl process -j $J" "$count" "$ow" "$oc" "$ok"
        awk -v pw="$pw" -v ow="$ow" -v pc="$pc" -v oc="$oc" \
            'BEGIN { printf "  ratio: %.1fx crashes/s, %.1fx CPU per crash\n", pw / ow, pc / oc }'
    done
    if [[ $corpus == production ]]; then
        for bound in $CACHE_BOUNDS; do
            ours "$OUT/$corpus" "$OUT/$corpus.ids" "$syms" --symbol-cache-modules "$bound"
            row "crashctl -j $J --symbol-cache-modules $bound" "$count" "$WALL" "$CPU" "$KIB"
        done
    fi
    rm -rf "$OUT/mdsw"
done
