#!/bin/sh
# The long fuzz run of docs/reliability.md (not part of CI): the multipart parser and the
# queue/store readers, 1,000,000 cases in all, on the debug build. Temporary trees go to
# /dev/shm when it exists (the readers' fuzz makes ~30 directories a case).
# Usage: bench/fuzz_long.sh [SCALE]   (SCALE=1 runs the recorded 1,000,000 cases; 0.01 a try)
set -eu
scale=${1:-1}
cd "$(dirname "$0")/.."
[ -d /dev/shm ] && export TMPDIR=/dev/shm
cargo test --test cli --no-run
run() { # test name, cases
    n=$(awk "BEGIN { printf \"%d\", $2 * $scale }")
    start=$(date +%s)
    PROPTEST_CASES=$n cargo test -q --test cli -- --exact "faults::fuzz::$1" 2>&1 | grep -E "test result|panicked|minimal" || true
    echo "$1: $n cases, $(( $(date +%s) - start )) s"
}
run fuzz_parser_arbitrary_bytes_and_headers 700000 &
run fuzz_parser_multipart_structures 200000 &
run fuzz_queue_and_store_readers_on_hostile_trees 100000 &
wait
