#!/usr/bin/env bash
# build-test.sh VERSION — build osslcache-test:VERSION from docker/Dockerfile.
#
# VERSION is an OpenSSL line: 1.1.1 (bullseye), 3.0 (bookworm), 3.5 (trixie),
# 3.6 (sid). The base defaults to osslcache-base:SUITE, built by
# build-base.sh when missing or stale (no registry needed). Set BASE to use
# another image instead, e.g. BASE=debian:bullseye where a registry is reachable.
# Fails if the image's libssl is not of the VERSION line, unless
# ALLOW_VERSION_MISMATCH=1.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# suite_for VERSION — the Debian suite that carries that OpenSSL line.
suite_for() {
  case $1 in
    1.1.1) echo bullseye ;;
    3.0) echo bookworm ;;
    3.5) echo trixie ;;
    3.6) echo sid ;;
    *) return 1 ;;
  esac
}

[[ $# -eq 1 ]] || { echo "usage: $0 1.1.1|3.0|3.5|3.6" >&2; exit 2; }
version=$1
suite=$(suite_for "$version") || { echo "unknown version $version (want 1.1.1, 3.0, 3.5 or 3.6)" >&2; exit 2; }
image=osslcache-test:$version
log() { printf '[test %s] %s\n' "$version" "$*" >&2; }

net=()
if [[ -n ${BASE:-} ]]; then
  base=$BASE # from a registry: apt may have to run
else
  base=osslcache-base:$suite
  "$here/build-base.sh" "$suite"
  net=(--network none) # everything is in the base already
fi

build() {
  docker build "${net[@]}" --build-arg BASE="$base" --label osslcache.version="$version" \
    --label osslcache.suite="$suite" -t "$image" "$@" - <"$here/Dockerfile" 2>&1 |
    sed -u "s/^/[test $version] /" >&2
}

log "docker build $image from $base"
# Our bases have pkg-config, so the version is known before building; a bare
# registry base needs a first build to find it, then a (cached) second pass
# that only adds the label.
if found=$(docker run --rm --network none "$base" pkg-config --modversion openssl 2>/dev/null); then
  build --build-arg OPENSSL_VERSION="$found"
else
  build
  found=$(docker run --rm --network none "$image" cat /etc/osslcache/openssl-version)
  build --build-arg OPENSSL_VERSION="$found"
fi

case $found in
  "$version" | "$version"[a-z] | "$version".*) ;;
  *)
    log "WARNING: $suite carries OpenSSL $found, not $version"
    [[ ${ALLOW_VERSION_MISMATCH:-0} == 1 ]] || exit 1
    ;;
esac
log "built $image: OpenSSL $found ($(docker image inspect -f '{{.Size}}' "$image" | numfmt --to=iec))"
