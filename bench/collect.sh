#!/usr/bin/env bash
# Benchmark: `crashctl collect` + `crashctl submit` on loopback with 400 KB dumps, side by side
# with curl as the client (one process per crash, as CI scripts do): N crashes under
# `xargs -P J` against `submit -j J` (the headline), and a plain loop against `-j 1`; and the
# disk's own limit: writing and fsyncing the same number of 400 KB files in a plain loop.
#
# Usage: bench/collect.sh               (N=2000 crashes, NCURL=300 for the curl loop, J=16)
#        N=500 NCURL=100 bench/collect.sh
#        CRASHCTL=/path/to/crashctl bench/collect.sh   (another build, e.g. to compare commits)
# Needs: curl, python3 (the fsync loop), a release build (built here).
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-2000}
NCURL=${NCURL:-300}
J=${J:-16}
OUT=bench/out/collect
command -v curl >/dev/null || { echo "bench: curl is not installed" >&2; exit 2; }
command -v python3 >/dev/null || { echo "bench: python3 is not installed" >&2; exit 2; }

if [[ -z ${CRASHCTL:-} ]]; then
    echo "== building crashctl (release)" >&2
    cargo build --release --quiet
    CRASHCTL=$PWD/target/release/crashctl
fi

# Deleting many files makes the next file creations slow on ext4 without a journal (this
# machine's disk): for about a minute it skips the inodes just freed (`recently_deleted` in
# fs/ext4/ialloc.c), scanning past each. So nothing is deleted between measurements; the files
# are removed at the end, and a run started less than 70 s after the previous one waits first.
STAMP=bench/out/.collect-deleted-at
mkdir -p bench/out
exec 9> bench/out/.collect.lock
flock -n 9 || { echo "bench: another bench/collect.sh is running" >&2; exit 2; }
if [[ -f $STAMP ]]; then
    wait_s=$(( $(stat -c %Y "$STAMP") + 70 - $(date +%s) ))
    if (( wait_s > 0 )); then
        echo "== waiting ${wait_s} s: the previous run deleted its files less than 70 s ago" >&2
        sleep "$wait_s"
    fi
fi
rm -rf "$OUT" && mkdir -p "$OUT"
head -c 400000 /dev/urandom > "$OUT/dump.bin"

now() { date +%s.%N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# 1. The disk's limit: N files of 400 KB, each written and fsynced (plus its directory), in a
#    plain loop; and the same with J threads, since concurrent fsyncs share journal commits.
fsync_loop() { # $1 = threads
    python3 - "$OUT/fsync-$1" "$OUT/dump.bin" "$N" "$1" <<'EOF'
import os, sys, time, threading
out, src, n, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
os.makedirs(out)
data = open(src, "rb").read()
dfd = os.open(out, os.O_RDONLY)
def work(k):
    for i in range(k, n, threads):
        fd = os.open(os.path.join(out, "f%06d" % i), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)
        os.fsync(dfd)
start = time.perf_counter()
ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
print("%.1f" % (n / (time.perf_counter() - start)))
EOF
}
echo "== fsync loop: $N x 400 KB files" >&2
FSYNC_RATE=$(fsync_loop 1)
echo "== fsync loop, $J threads: $N x 400 KB files" >&2
FSYNC_PAR_RATE=$(fsync_loop "$J")

# 2. The collector, on a free port.
"$CRASHCTL" collect --listen 127.0.0.1:0 --spool "$OUT/spool" 2> "$OUT/collect.log" &
COLLECTOR=$!
trap 'kill $COLLECTOR 2>/dev/null || true' EXIT
for _ in $(seq 200); do grep -q '^listening on ' "$OUT/collect.log" && break; sleep 0.05; done
URL=$(sed -n 's/^listening on //p' "$OUT/collect.log" | head -1)
[[ -n "$URL" ]] || { echo "bench: the collector did not start" >&2; cat "$OUT/collect.log" >&2; exit 1; }

# 3. crashctl submit: N crashes, J at once, and the same sequentially (-j 1) for a like-for-like view.
run_submit() { # $1 = concurrency, $2 = count
    "$CRASHCTL" submit "$URL" --dump "$OUT/dump.bin" ProductName=Bench Version=1.0 \
        --repeat "$2" -j "$1" --format json > "$OUT/submit-j$1.jsonl" 2> "$OUT/submit-j$1.txt"
    local accepted rate p99
    accepted=$(grep -c '"status":"accepted"' "$OUT/submit-j$1.jsonl" || true)
    rate=$(sed -n 's/.*(\([0-9.]*\)\/s).*/\1/p' "$OUT/submit-j$1.txt")
    p99=$(sed -n 's/.*p99 \([0-9.]*\) ms.*/\1/p' "$OUT/submit-j$1.txt")
    echo "$accepted $rate $p99"
}
echo "== crashctl submit -j $J: $N crashes" >&2
read -r SUB_OK SUB_RATE SUB_P99 < <(run_submit "$J" "$N")
echo "== crashctl submit -j 1: $NCURL crashes" >&2
read -r SEQ_OK SEQ_RATE SEQ_P99 < <(run_submit 1 "$NCURL")

# 4. curl, one process per crash: N crashes under `xargs -P J` (the same N and the same number
#    in flight as `submit -j J`: the headline ratio), and NCURL in a plain loop (against -j 1).
curl_one() {
    curl -sS -o /dev/null -w '%{http_code} %{time_total}\n' \
        -F ProductName=Bench -F Version=1.0 -F "upload_file_minidump=@$OUT/dump.bin" "$URL/submit"
}
export -f curl_one
export OUT URL
curl_stats() { # $1 = file, $2 = count, $3 $4 = start, end; prints ok rate p99
    local ok rate p99
    ok=$(grep -c '^200 ' "$1" || true)
    rate=$(awk -v n="$2" -v a="$3" -v b="$4" 'BEGIN { printf "%.1f", n / (b - a) }')
    p99=$(awk '{ print $2 * 1000 }' "$1" | sort -n |
        awk '{ v[NR] = $1 } END { r = int(NR * 0.99 + 0.999); if (r < 1) r = 1; printf "%.1f", v[r] }')
    echo "$ok $rate $p99"
}
echo "== curl under xargs -P $J: $N crashes" >&2
t0=$(now)
seq "$N" | xargs -P "$J" -I{} bash -c curl_one > "$OUT/curl-par.txt"
t1=$(now)
read -r CURLP_OK CURLP_RATE CURLP_P99 < <(curl_stats "$OUT/curl-par.txt" "$N" "$t0" "$t1")
echo "== curl loop: $NCURL crashes" >&2
t0=$(now)
for ((i = 0; i < NCURL; i++)); do curl_one; done > "$OUT/curl.txt"
t1=$(now)
read -r CURL_OK CURL_RATE CURL_P99 < <(curl_stats "$OUT/curl.txt" "$NCURL" "$t0" "$t1")

kill -TERM $COLLECTOR && wait $COLLECTOR || true
trap - EXIT
SPOOLED=$(find "$OUT/spool" -name raw_crash.json | wc -l)

echo
echo "machine: $(nproc) cores; dumps: 400 KB random; spool on $(df -P "$OUT" | awk 'NR==2 { print $1 }')"
printf '%-34s %10s %12s %10s\n' "client / loop" "crashes" "per second" "p99 ms"
printf '%-34s %10s %12s %10s\n' "fsync loop (disk limit)" "$N" "$FSYNC_RATE" "-"
printf '%-34s %10s %12s %10s\n' "fsync loop, $J threads" "$N" "$FSYNC_PAR_RATE" "-"
printf '%-34s %10s %12s %10s\n' "crashctl submit -j $J" "$SUB_OK/$N" "$SUB_RATE" "$SUB_P99"
printf '%-34s %10s %12s %10s\n' "crashctl submit -j 1" "$SEQ_OK/$NCURL" "$SEQ_RATE" "$SEQ_P99"
printf '%-34s %10s %12s %10s\n' "curl under xargs -P $J" "$CURLP_OK/$N" "$CURLP_RATE" "$CURLP_P99"
printf '%-34s %10s %12s %10s\n' "curl in a shell loop" "$CURL_OK/$NCURL" "$CURL_RATE" "$CURL_P99"
echo "crashes in the spool: $SPOOLED (expected $((2 * N + 2 * NCURL)))"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "collector / fsync loop:      $(ratio "$SUB_RATE" "$FSYNC_RATE")  (target >= 0.5)"
echo "collector / threaded fsync:  $(ratio "$SUB_RATE" "$FSYNC_PAR_RATE")"
echo "crashctl submit -j $J / curl xargs -P $J (same N): $(ratio "$SUB_RATE" "$CURLP_RATE")  (headline; target >= 10)"
echo "crashctl submit -j 1 / curl loop:               $(ratio "$SEQ_RATE" "$CURL_RATE")"
rm -rf "$OUT/spool" "$OUT"/fsync-*
touch "$STAMP"
