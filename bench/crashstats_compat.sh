#!/usr/bin/env bash
# Byte-for-byte check of crashctl search / facet / fetch --layout fetch-data against
# crashstats-tools 2.1.0's supersearch / supersearchfacet / fetch-data, both run against the
# test suite's Crash Stats stand-in (examples/crashstats_standin.rs). Prints one line per
# comparison; exits 1 if any output differs.
# Usage: bench/crashstats_compat.sh   (needs python3; installs crashstats-tools==2.1.0 into
# target/bench-venv-cst210 on first use)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bin crashctl --example crashstats_standin
B=target/debug/crashctl
V=target/bench-venv-cst210
[ -x "$V/bin/supersearch" ] || { python3 -m venv "$V" && "$V/bin/pip" install -q "crashstats-tools==2.1.0"; }
WORK=$(mktemp -d)
SERVER=
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT
export CRASHSTATS_API_TOKEN=compattoken0123456789
target/debug/examples/crashstats_standin 200 0 "$CRASHSTATS_API_TOKEN" "$WORK/ids.txt" > "$WORK/url" & SERVER=$!
for _ in $(seq 100); do [ -s "$WORK/url" ] && break; sleep 0.1; done
U=$(cat "$WORK/url")
FAILED=0
same() { # name: compares $WORK/cst.out and $WORK/cc.out
    if cmp -s "$WORK/cst.out" "$WORK/cc.out"; then
        printf 'identical  %-40s (%s lines)\n' "$1" "$(wc -l < "$WORK/cc.out")"
    else
        printf 'DIFFERENT  %s\n' "$1"; diff "$WORK/cst.out" "$WORK/cc.out" | head -5; FAILED=1
    fi
}
for f in tab csv markdown json; do
    for h in "" --headers; do
        "$V/bin/supersearch" --host "$U" --num 150 --_columns=uuid --_columns=signature --_columns=product \
            --_columns=version --format="$f" $h --product=Firefox > "$WORK/cst.out"
        "$B" -q search --host "$U" --num 150 --columns uuid,signature,product,version --format "$f" $h product=Firefox > "$WORK/cc.out"
        same "search --format $f $h"
    done
done
D=(--start-date 2026-01-01 --end-date 2026-12-31)
facet() { # name "supersearchfacet args" "crashctl facet args"
    for f in table tab csv markdown json raw; do
        # shellcheck disable=SC2086
        "$V/bin/supersearchfacet" --host "$U" "${D[@]}" $2 --format="$f" > "$WORK/cst.out"
        # shellcheck disable=SC2086
        "$B" -q facet --host "$U" "${D[@]}" $3 --format "$f" > "$WORK/cc.out"
        same "facet $1 --format $f"
    done
}
facet "product, platform, leftover" "--_facets=product --_facets=platform --leftover-count" "--facet product --facet platform --leftover-count"
facet "histogram, weekends, leftover" "--_histogram.date=product --_histogram.date=_cardinality.platform --denote-weekends --leftover-count" \
    "--histogram date=product,_cardinality.platform --denote-weekends --leftover-count"
facet "cardinality" "--_facets=_cardinality.platform" "--cardinality platform"
facet "nested aggs" "--_aggs.product.platform=_cardinality.version" "--agg product.platform._cardinality.version"
facet "nested aggs, leftover" "--_aggs.product=platform --leftover-count" "--agg product.platform --leftover-count"
facet "signature (ASCII only)" "--_facets=signature" "--facet signature --ascii-only"
head -20 "$WORK/ids.txt" > "$WORK/ids20.txt"
"$V/bin/fetch-data" --host "$U" --raw --dumps --processed --no-color "$WORK/cst" < "$WORK/ids20.txt" > /dev/null
"$B" -q fetch --host "$U" --store "$WORK/cc" --layout fetch-data --dumps --processed < "$WORK/ids20.txt"
if diff -r "$WORK/cst" "$WORK/cc" > "$WORK/diff"; then
    echo "identical  fetch --layout fetch-data ($(find "$WORK/cc" -type f | wc -l) files, diff -r)"
else
    echo "DIFFERENT  fetch --layout fetch-data"; head -5 "$WORK/diff"; FAILED=1
fi
exit $FAILED
