#!/usr/bin/env bash
# Stress run: the ossl, store, redisstore and proxy tests under -asan and
# under -race, GOMAXPROCS=8 on whatever cores the machine has, -count=N, with
# CPU-burning processes beside them, so that goroutines are preempted at any
# instruction and collections land in every window. OSSLCACHE_STRESS scales
# the loops of the lifetime and torture tests.
#
#   STRESS_COUNT    runs of every test of each package (default 10)
#   STRESS_MODES    sanitizers, in order (default "asan race")
#   STRESS_PKGS     packages (default ./ossl/ ./store/ ./store/redisstore/ ./proxy/)
#   STRESS_BURNERS  busy-looping processes beside the tests (default 2)
#   OSSLCACHE_STRESS  loop factor of the ossl stress tests (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."

count=${STRESS_COUNT:-10}
modes=${STRESS_MODES:-asan race}
pkgs=${STRESS_PKGS:-./ossl/ ./store/ ./store/redisstore/ ./proxy/}
burners=${STRESS_BURNERS:-2}
export OSSLCACHE_STRESS=${OSSLCACHE_STRESS:-2}
export GOMAXPROCS=8

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
for _ in $(seq 1 "$burners"); do
	(while :; do :; done) &
	pids+=($!)
done

start=$(date +%s)
for mode in $modes; do
	t0=$(date +%s)
	echo "stress: -$mode -count=$count, GOMAXPROCS=$GOMAXPROCS, $burners CPU burners, OSSLCACHE_STRESS=$OSSLCACHE_STRESS: $pkgs"
	# shellcheck disable=SC2086
	go test -"$mode" -count="$count" -timeout 120m $pkgs
	echo "stress: -$mode: $count runs of every test of each package passed in $(( $(date +%s) - t0 ))s"
done
echo "stress: all passed in $(( $(date +%s) - start ))s"
