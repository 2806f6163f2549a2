#!/usr/bin/env bash
# Installs what the Docker targets (make conformance-matrix, make adapters)
# need beyond scripts/setup.sh: debootstrap and the Debian archive keyring,
# which build the registry-free base images (docker/build-base.sh). The
# Docker engine itself is the machine's; this checks that one answers.
set -euo pipefail

need=()
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
[ -r /usr/share/keyrings/debian-archive-keyring.gpg ] || need+=(debian-archive-keyring)

if ((${#need[@]})); then
	echo "setup-matrix: installing ${need[*]}"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
docker info >/dev/null 2>&1 || { echo "setup-matrix: no Docker engine answers (docker info)" >&2; exit 1; }
echo "setup-matrix: $(debootstrap --version 2>/dev/null | head -1), Docker $(docker version -f '{{.Server.Version}}')"
