#!/bin/sh
# The long fuzz run of docs/reliability.md (not part of CI): 1,000,000 cases through the
# multipart parser and the queue/store readers (`fuzz_long_parser_and_readers`, ignored in
# CI). Temporary trees go to /dev/shm when it exists (a readers' case makes ~30 directories).
# Usage: bench/fuzz_long.sh [CASES]   (FUZZ_LONG_SEED=N replays a run)
set -eu
cd "$(dirname "$0")/.."
[ -d /dev/shm ] && export TMPDIR=/dev/shm
FUZZ_LONG_CASES=${1:-1000000} cargo test --test cli -- --ignored --exact \
    faults::fuzz::fuzz_long_parser_and_readers --nocapture 2>&1 | grep -E "seed|figures|panicked|test result"
