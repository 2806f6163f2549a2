#!/usr/bin/env bash
# Stress run: the ossl, store, redisstore and proxy tests under -asan and
# under -race, GOMAXPROCS=8 on whatever cores the machine has, with
# CPU-burning processes beside them, so that goroutines are preempted at any
# instruction and collections land in every window. OSSLCACHE_STRESS scales
# the loops of the lifetime and torture tests.
#
# Each package's test binary is built once per sanitizer, then run
# STRESS_COUNT times, every run a process of its own: a full run of the
# package's tests that ends in a process exit, where LeakSanitizer makes its
# report (one `go test -count=N` process would leave that to the very end,
# and a run stopped early would never check). The packages run side by
# side, as `go test ./...` runs them. A failed run is counted, its log kept
# under out/stress/, and the next run goes on; the script fails at the end
# if any run failed.
#
#   STRESS_COUNT    runs of each package (default 10)
#   STRESS_MODES    sanitizers, in order (default "asan race")
#   STRESS_PKGS     packages (default ./ossl/ ./store/ ./store/redisstore/ ./proxy/)
#   STRESS_BURNERS  busy-looping processes beside the tests (default 2)
#   STRESS_TIMEOUT  -test.timeout of one run (default 20m)
#   OSSLCACHE_STRESS  loop factor of the ossl stress tests (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."

count=${STRESS_COUNT:-10}
modes=${STRESS_MODES:-asan race}
pkgs=${STRESS_PKGS:-./ossl/ ./store/ ./store/redisstore/ ./proxy/}
burners=${STRESS_BURNERS:-2}
timeout=${STRESS_TIMEOUT:-20m}
export OSSLCACHE_STRESS=${OSSLCACHE_STRESS:-2}
export GOMAXPROCS=8
out=$PWD/out/stress
mkdir -p "$out"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# stem MODE PKG: where that package's binary, logs and count go,
# out/stress/asan-store-redisstore for -asan ./store/redisstore/
stem() { echo "$out/$1-$(echo "${2#./}" | sed 's,/$,,; s,/,-,g')"; }

# runs MODE PKG: STRESS_COUNT runs of the package's binary (STEM.test), one
# process each; a failed run's log is kept (STEM-runN.log), and the number
# of failed runs goes to STEM.failed.
runs() {
	local mode=$1 pkg=$2 st failed=0 i t0 rc log
	st=$(stem "$mode" "$pkg")
	for i in $(seq 1 "$count"); do
		t0=$(date +%s)
		log=$st-run$i.log
		rc=0
		(cd "$pkg" && "$st.test" -test.count=1 -test.timeout="$timeout") >"$log" 2>&1 || rc=$?
		if [ "$rc" -eq 0 ]; then
			rm -f "$log"
			echo "stress: -$mode $pkg run $i/$count ok ($(( $(date +%s) - t0 ))s)"
		else
			failed=$((failed + 1))
			echo "stress: -$mode $pkg run $i/$count FAILED (exit $rc, $(( $(date +%s) - t0 ))s), log kept: $log"
			grep -E -m 20 -e '^(--- FAIL|panic:|fatal error:|SIGABRT|SIGSEGV|==[0-9]+==ERROR)' -e 'FAIL' "$log" | sed 's/^/stress:   /' || true
		fi
	done
	echo "$failed" >"$st.failed"
	echo "stress: -$mode $pkg: $((count - failed)) of $count runs passed"
}

for _ in $(seq 1 "$burners"); do
	(while :; do :; done) &
	pids+=($!)
done

start=$(date +%s)
failed=0
for mode in $modes; do
	t0=$(date +%s)
	echo "stress: -$mode, $count runs of each package (a process each), GOMAXPROCS=$GOMAXPROCS, $burners CPU burners, OSSLCACHE_STRESS=$OSSLCACHE_STRESS: $pkgs"
	for pkg in $pkgs; do
		go test -"$mode" -c -o "$(stem "$mode" "$pkg").test" "$pkg"
	done
	runners=()
	for pkg in $pkgs; do
		runs "$mode" "$pkg" &
		runners+=($!)
	done
	wait "${runners[@]}"
	for pkg in $pkgs; do
		failed=$((failed + $(cat "$(stem "$mode" "$pkg").failed")))
	done
	echo "stress: -$mode: done in $(( $(date +%s) - t0 ))s"
done
if [ "$failed" -ne 0 ]; then
	echo "stress: $failed runs FAILED (logs in out/stress/) in $(( $(date +%s) - start ))s"
	exit 1
fi
echo "stress: all runs passed in $(( $(date +%s) - start ))s"
