# osslcache: Go bindings of libssl's session cache, and a conformance suite.
# `make conform` is the main job, `make test` the tests; both install what
# is missing first (scripts/setup.sh: compiler, libssl headers, Redis). The
# Docker targets (conformance-matrix, adapters) also need debootstrap and a
# Docker engine (scripts/setup.sh matrix), which nothing else does.

SHELL        := /bin/bash
.SHELLFLAGS  := -o pipefail -ec

GO       ?= go
VERSIONS ?= 1.1.1 3.0 3.5 3.6
PKGS     := ./...

FUZZTIME ?= 20s
SOAK_N   ?= 1000000

.PHONY: setup setup-matrix conform test vet leakcheck stress stress-quick fuzz soak bench redis-bench http-bench proxy-bench adapters conformance-matrix ci clean

## setup: what building and testing needs (gcc, libssl headers, Redis)
setup:
	@bash scripts/setup.sh

## setup-matrix: what the Docker targets need besides (debootstrap, Docker)
setup-matrix:
	@bash scripts/setup.sh matrix

## conform: run the conformance suite against the linked libssl (main job)
conform: setup
	$(GO) run ./cmd/osslcache conform

## test: every test, with the race detector (redis-server, curl and h2load
## required: setup installs them)
test: setup
	OSSLCACHE_REQUIRE_REDIS=$${OSSLCACHE_REQUIRE_REDIS:-1} OSSLCACHE_REQUIRE_CURL=$${OSSLCACHE_REQUIRE_CURL:-1} \
		OSSLCACHE_REQUIRE_H2LOAD=$${OSSLCACHE_REQUIRE_H2LOAD:-1} $(GO) test -race -count=1 $(PKGS)

## vet: go vet and gofmt
vet:
	$(GO) vet $(PKGS)
	$(GO) vet -tags ossl_memdebug ./ossl/
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## leakcheck: AddressSanitizer plus OpenSSL heap-block counting over
## thousands of handshakes; first proves the check fails on a planted leak.
leakcheck: setup
	@echo "leakcheck: the canary must fail"
	@if OSSLCACHE_LEAK_CANARY=1 $(GO) test -tags ossl_memdebug -count=1 -run 'TestLeakCanary' ./ossl/ >/tmp/osslcache-canary.log 2>&1; then \
		echo "leakcheck: the planted leak was not detected"; cat /tmp/osslcache-canary.log; exit 1; \
	else grep -q "OpenSSL heap blocks leaked by 300 handshakes, each leaking a session reference" /tmp/osslcache-canary.log && echo "leakcheck: planted leak detected, as it must be"; fi
	OSSLCACHE_HANDSHAKES=4000 $(GO) test -asan -tags ossl_memdebug -count=1 -v -run 'TestManyHandshakes|TestBadStores|TestConcurrent|TestClientSessionCache|TestCallbacksFollow|TestConnFreesEverything|TestSkippedPutReleasesItsSession|TestALPN|TestListener' ./ossl/ | grep -E '^(=== RUN|--- FAIL|ok|FAIL|PASS)|heap blocks' | grep -v '=== RUN'
	$(GO) test -asan -count=1 ./store/
	$(GO) test -gcflags=all=-d=checkptr -count=3 ./ossl/ ./store/

## stress: the ossl, store, redisstore and proxy tests under -asan and
## -race, GOMAXPROCS=8, STRESS_COUNT runs of each package, every run a
## process of its own (LeakSanitizer reports at each exit), packages side by
## side, beside CPU burners (scripts/stress.sh says the knobs); stress-quick
## is a pass under 45 s
STRESS_COUNT ?= 10
stress: setup
	STRESS_COUNT=$(STRESS_COUNT) bash scripts/stress.sh

stress-quick:
	STRESS_COUNT=1 STRESS_MODES=race STRESS_PKGS="./ossl/ ./store/" STRESS_BURNERS=1 OSSLCACHE_STRESS=1 bash scripts/stress.sh

## fuzz: every fuzz target for FUZZTIME each; a crash is saved under the
## package's testdata/fuzz and, committed, becomes a regression test.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzUnmarshalSession$$' -fuzztime $(FUZZTIME) ./ossl/
	$(GO) test -run '^$$' -fuzz '^FuzzParseCacheMode$$' -fuzztime $(FUZZTIME) ./ossl/
	$(GO) test -run '^$$' -fuzz '^FuzzBytesGet$$' -fuzztime $(FUZZTIME) ./store/
	$(GO) test -run '^$$' -fuzz '^FuzzOpenSealedBlob$$' -fuzztime $(FUZZTIME) ./store/redisstore/

## soak: SOAK_N mixed handshakes in one process; fails unless memory,
## goroutines and OpenSSL heap blocks stay flat after warm-up.
soak:
	$(GO) run -tags ossl_memdebug ./cmd/osslcache soak -n $(SOAK_N)

## bench: resumed handshakes, internal cache vs Go stores, side by side
bench: setup
	$(GO) run ./cmd/osslcache bench

## redis-bench: resumed handshakes through a running Redis node (started
## here on REDIS_PORT) and a Redis Cluster of three masters with a replica
## each (started here on REDIS_CLUSTER_PORT and the five ports after it),
## side by side with the internal cache and the memory store
REDIS_PORT ?= 6390
REDIS_CLUSTER_PORT ?= 7190
REDIS_BENCH_N ?= 20000
redis-bench: setup
	bash scripts/redis-server.sh start $(REDIS_PORT)
	bash scripts/redis-server.sh cluster-start $(REDIS_CLUSTER_PORT) || { bash scripts/redis-server.sh stop $(REDIS_PORT); exit 1; }
	$(GO) run ./cmd/osslcache redis-bench -addr 127.0.0.1:$(REDIS_PORT) \
		-cluster 127.0.0.1:$(REDIS_CLUSTER_PORT),127.0.0.1:$$(($(REDIS_CLUSTER_PORT)+1)),127.0.0.1:$$(($(REDIS_CLUSTER_PORT)+2)) \
		-n $(REDIS_BENCH_N) -c 4 -tls 1.2 -stores internal,memory,redis,redis-cluster; \
		rc=$$?; bash scripts/redis-server.sh cluster-stop $(REDIS_CLUSTER_PORT); bash scripts/redis-server.sh stop $(REDIS_PORT); exit $$rc

## http-bench: examples/http (net/http on libssl) against nginx serving the
## same one-line answer, requests and handshakes per second with h2load
## (installs nginx and nghttp2-client when missing)
HTTP_BENCH_N ?= 20000
HTTP_BENCH_HN ?= 2000
HTTP_BENCH_ROUNDS ?= 3
http-bench: setup
	bash scripts/http-bench.sh -n $(HTTP_BENCH_N) -hn $(HTTP_BENCH_HN) -rounds $(HTTP_BENCH_ROUNDS)

## proxy-bench: osslcache serve (memory store, internal cache, Redis)
## against nginx (stream module) and HAProxy terminating TLS in front of
## the same upstream: CPU time per handshake under openssl s_time, resumed
## and full, TLS 1.2 and 1.3, with ratios to nginx; then memory per idle
## connection (installs nginx, libnginx-mod-stream and haproxy when
## missing). Short: make proxy-bench PROXY_BENCH_SECONDS=2 PROXY_BENCH_ROUNDS=1
PROXY_BENCH_SECONDS ?= 6
PROXY_BENCH_ROUNDS ?= 3
PROXY_BENCH_IDLE ?= 1000
proxy-bench: setup
	bash scripts/proxy-bench.sh -seconds $(PROXY_BENCH_SECONDS) -rounds $(PROXY_BENCH_ROUNDS) -idle $(PROXY_BENCH_IDLE)

## adapters: the libp2p/go-openssl adapter on the machine's libssl, and the
## spacemonkeygo/openssl one (OpenSSL 1.1.x only) in the 1.1.1 image
adapters: setup-matrix
	cd adapters/libp2p && $(GO) test -race -count=1 ./...
	cd adapters/spacemonkey && $(GO) mod download
	bash docker/build-test.sh 1.1.1
	bash docker/run-conformance.sh 1.1.1 out/adapters 'cd adapters/spacemonkey && go test -count=1 -v ./... 2>&1 | grep -E "^(---|ok|FAIL|PASS)|OpenSSL"; exit $${PIPESTATUS[0]}'

## conformance-matrix: the suite in Docker for each OpenSSL release line
conformance-matrix: setup-matrix
	bash docker/matrix.sh $(VERSIONS)

ci:
	bash .ci/run

clean:
	rm -rf out/
