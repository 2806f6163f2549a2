#!/usr/bin/env bash
# run-conformance.sh VERSION OUTDIR [COMMAND...] — run the suite in osslcache-test:VERSION.
#
# The container has no network. It gets the host's Go toolchain (read-only, at
# /usr/local/go), the host module cache (read-only), the repo (read-only, at
# /src), a per-version writable build cache and OUTDIR (writable, at /out).
# Each COMMAND is a shell command run in /src, in order; all run, and the exit
# code is non-zero if any failed. Without COMMANDs, the newline-separated
# commands in $OSSLCACHE_TEST_CMDS are used, else the defaults below.
# $OSSLCACHE_VERSION (= VERSION) is set inside. Output lines are prefixed [VERSION].
#
# Env: OSSLCACHE_CACHE (default /var/cache/osslcache), OSSLCACHE_TEST_CMDS.
set -euo pipefail

[[ $# -ge 2 ]] || { echo "usage: $0 VERSION OUTDIR [COMMAND...]" >&2; exit 2; }
version=$1
outdir=$2
shift 2

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
cache=${OSSLCACHE_CACHE:-/var/cache/osslcache}
image=osslcache-test:$version
prefix="[$version]"

# shellcheck disable=SC2016 # expanded inside the container
default_cmds='go test ./...
go run ./cmd/osslcache conform -json "/out/report-$OSSLCACHE_VERSION.json" -md "/out/report-$OSSLCACHE_VERSION.md"'
cmds=("$@")
if [[ ${#cmds[@]} -eq 0 ]]; then
  mapfile -t cmds < <(printf '%s\n' "${OSSLCACHE_TEST_CMDS:-$default_cmds}" | sed '/^[[:space:]]*$/d')
fi

docker image inspect "$image" >/dev/null 2>&1 ||
  { echo "$prefix no image $image: run docker/build-test.sh $version" >&2; exit 1; }

PATH=$PATH:/usr/local/go/bin # CI shells may lack it
goroot=$(go env GOROOT)
modcache=$(go env GOMODCACHE)
gocache=$cache/gocache-$version
mkdir -p "$outdir" "$gocache" "$modcache"
outdir=$(cd "$outdir" && pwd)

# The container cannot download: fill the host module cache first.
if [[ -f $repo/go.mod ]]; then
  (cd "$repo" && go mod download) 2>&1 | sed -u "s/^/$prefix /" >&2 ||
    echo "$prefix warning: go mod download failed; the run may miss modules" >&2
fi

# Inner script: run every command, report each, exit with the first failure.
# shellcheck disable=SC2016 # expanded inside the container
inner='rc=0
for c in "$@"; do
  echo "+ $c"
  if bash -c "$c"; then :; else s=$?; echo "FAILED ($s): $c"; [ "$rc" -ne 0 ] || rc=$s; fi
done
exit "$rc"'

name=osslcache-conform-$version-$$
trap 'docker rm -f "$name" >/dev/null 2>&1 || true' EXIT

echo "$prefix $image (OpenSSL $(docker image inspect -f '{{index .Config.Labels "osslcache.openssl"}}' "$image")), $(go version | cut -d' ' -f3)" >&2
set +e
docker run --rm --name "$name" --network none \
  --user "$(id -u):$(id -g)" \
  -v "$goroot:/usr/local/go:ro" \
  -v "$modcache:/gomodcache:ro" \
  -v "$repo:/src:ro" \
  -v "$gocache:/gocache" \
  -v "$outdir:/out" \
  -w /src \
  -e HOME=/tmp \
  -e PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  -e GOROOT=/usr/local/go \
  -e GOMODCACHE=/gomodcache \
  -e GOCACHE=/gocache \
  -e GOPATH=/tmp/gopath \
  -e GOFLAGS="-mod=readonly -buildvcs=false" \
  -e GOPROXY=off \
  -e GOSUMDB=off \
  -e GOTOOLCHAIN=local \
  -e CGO_ENABLED=1 \
  -e OSSLCACHE_VERSION="$version" \
  "$image" bash -c "$inner" inner "${cmds[@]}" 2>&1 |
  sed -u "s/^/$prefix /"
rc=${PIPESTATUS[0]}
set -e
echo "$prefix exit $rc" >&2
exit "$rc"
