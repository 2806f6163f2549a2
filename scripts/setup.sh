#!/usr/bin/env bash
# setup.sh [matrix] — installs what osslcache needs on Debian, skipping
# whatever is already there.
#
# Without an argument: what building and testing needs (make test, conform,
# bench, ...): gcc, pkg-config, the libssl headers, Redis (for the store
# tests: redis-server, which also runs the Sentinels as redis-server
# --sentinel, and redis-cli, which makes the test clusters) and the openssl
# CLI (for the serve tests), curl and h2load (nghttp2-client, for the HTTPS
# example's tests).
# With "matrix": also what the Docker targets need (make conformance-matrix,
# make adapters): debootstrap and the Debian archive keyring, which build
# the registry-free base images (docker/build-base.sh); and it checks that a
# Docker engine answers (the engine is the machine's).
set -euo pipefail

matrix=0
case ${1:-} in
	"") ;;
	matrix) matrix=1 ;;
	*) echo "usage: $0 [matrix]" >&2; exit 2 ;;
esac

need=()
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
pkg-config --exists libssl libcrypto 2>/dev/null || need+=(libssl-dev)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl ca-certificates)
command -v h2load >/dev/null 2>&1 || need+=(nghttp2-client)
if ((matrix)); then
	command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
	[ -r /usr/share/keyrings/debian-archive-keyring.gpg ] || need+=(debian-archive-keyring)
fi

if ((${#need[@]})); then
	echo "setup: installing ${need[*]}"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
	# The Debian package starts a system redis on :6379; the tests run
	# their own servers, so leave it to the machine's owner.
fi
command -v go >/dev/null 2>&1 || { echo "setup: Go 1.26 or newer is needed (https://go.dev/dl/)" >&2; exit 1; }
echo "setup: $(go version | cut -d' ' -f3), libssl $(pkg-config --modversion libssl), $(redis-server --version | cut -d' ' -f3), $(redis-cli --version)"
if ((matrix)); then
	docker info >/dev/null 2>&1 || { echo "setup: no Docker engine answers (docker info)" >&2; exit 1; }
	echo "setup: debootstrap $(dpkg-query -W -f '${Version}' debootstrap), Docker $(docker version -f '{{.Server.Version}}')"
fi
