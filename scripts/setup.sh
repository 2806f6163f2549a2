#!/usr/bin/env bash
# Installs what building and testing osslcache needs on Debian, skipping
# whatever is already there: gcc, pkg-config, the libssl headers, Redis
# (for the store tests), curl and h2load (nghttp2-client, for the HTTPS
# example's tests) and debootstrap (for the Docker matrix).
set -euo pipefail

need=()
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
pkg-config --exists libssl libcrypto 2>/dev/null || need+=(libssl-dev)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl ca-certificates)
command -v h2load >/dev/null 2>&1 || need+=(nghttp2-client)

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
echo "setup: $(go version | cut -d' ' -f3), libssl $(pkg-config --modversion libssl), $(redis-server --version | cut -d' ' -f3)"
