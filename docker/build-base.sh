#!/usr/bin/env bash
# build-base.sh SUITE — build the registry-free base image osslcache-base:SUITE.
#
# Bootstraps a minimal Debian SUITE (bullseye, bookworm, trixie, sid) with
# debootstrap, including a C toolchain and libssl-dev, and imports it with
# `docker import`. The image carries the label osslcache.inputs=<hash of suite,
# mirror, packages and this script>; if an image with the same hash exists the
# build is skipped. Set FORCE=1 to rebuild anyway.
#
# Stable suites also get their pending security updates (bookworm's libssl
# there is newer than in the point release). Updates published later are only
# picked up on a rebuild: FORCE=1.
#
# Env: OSSLCACHE_CACHE (default /var/cache/osslcache), DEBIAN_MIRROR
# (default http://deb.debian.org/debian), DEBIAN_SECURITY_MIRROR (default
# http://deb.debian.org/debian-security), FORCE.
set -euo pipefail

usage() { echo "usage: $0 bullseye|bookworm|trixie|sid" >&2; exit 2; }
[[ $# -eq 1 ]] || usage
suite=$1
case $suite in
  bullseye | bookworm | trixie | sid) ;;
  *) usage ;;
esac

cache=${OSSLCACHE_CACHE:-/var/cache/osslcache}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
[[ $suite != sid ]] || security="" # unstable has no security suite
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
packages=gcc,libc6-dev,libssl-dev,pkg-config,ca-certificates
image=osslcache-base:$suite

log() { printf '[base %s] %s\n' "$suite" "$*" >&2; }

# Hash of everything that determines the image's content.
self=${BASH_SOURCE[0]}
inputs=$(printf 'suite=%s\nmirror=%s\nsecurity=%s\npackages=%s\n' "$suite" "$mirror" "$security" "$packages"; cat "$self")
hash=$(printf '%s' "$inputs" | sha256sum | cut -c1-16)

current=$(docker image inspect -f '{{index .Config.Labels "osslcache.inputs"}}' "$image" 2>/dev/null || true)
if [[ ${FORCE:-0} != 1 && $current == "$hash" ]]; then
  log "up to date ($image, inputs $hash)"
  exit 0
fi

command -v debootstrap >/dev/null || { log "debootstrap missing: apt-get install -y debootstrap"; exit 1; }
[[ $(id -u) == 0 ]] || { log "debootstrap needs root"; exit 1; }
[[ -r $keyring ]] || { log "missing $keyring: apt-get install -y debian-archive-keyring"; exit 1; }

mkdir -p "$cache"
# One build per suite at a time.
exec 9>"$cache/base-$suite.lock"
flock 9

rootfs=$cache/rootfs-$suite
debs=$cache/debs-$suite # kept between builds: a rebuild downloads only what changed
cleanup() {
  # debootstrap may leave /proc or /sys mounted inside the rootfs on failure.
  awk -v r="$rootfs/" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r m; do umount -l "$m" || true; done
  rm -rf --one-file-system "$rootfs"
}
trap cleanup EXIT
cleanup
mkdir -p "$rootfs" "$debs"

log "debootstrap --variant=minbase $suite from $mirror (was: ${current:-none}, now: $hash)"
start=$SECONDS
# debootstrap ships a `sid` script (a link to the sid/unstable recipe); trixie
# needs debootstrap >= 1.0.128 (Debian 12 has it).
debootstrap --variant=minbase --include="$packages" --keyring="$keyring" \
  --cache-dir="$debs" "$suite" "$rootfs" "$mirror" 2>&1 |
  sed -u "s/^/[base $suite] /" >&2
log "debootstrap done in $((SECONDS - start))s"

if [[ -n $security ]]; then
  log "applying $suite-security updates"
  printf 'deb %s %s main\ndeb %s %s-security main\n' "$mirror" "$suite" "$security" "$suite" \
    >"$rootfs/etc/apt/sources.list"
  mount -t proc proc "$rootfs/proc"
  chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 \
    PATH=/usr/sbin:/usr/bin:/sbin:/bin sh -c 'apt-get -q update && apt-get -q -y upgrade' 2>&1 |
    sed -u "s/^/[base $suite] /" >&2
  umount "$rootfs/proc"
fi

# Record what we got, then drop apt caches and lists to keep the image small.
ver_of() { dpkg-query --admindir="$rootfs/var/lib/dpkg" -W -f='${Version}' "$1"; }
libssl=$(ver_of libssl-dev)
gccver=$(ver_of gcc)
[[ -n $libssl ]] || { log "libssl-dev is not installed in the rootfs"; exit 1; }
log "libssl-dev $libssl, gcc $gccver"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/archives/partial/* \
  "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log

log "importing into docker as $image"
tar -C "$rootfs" --numeric-owner -c . |
  docker import \
    --change "LABEL osslcache.inputs=$hash" \
    --change "LABEL osslcache.suite=$suite" \
    --change "LABEL osslcache.libssl-dev=$libssl" \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV LANG=C.UTF-8" \
    --change 'CMD ["/bin/bash"]' \
    --message "debootstrap minbase $suite + $packages" \
    - "$image" >/dev/null
docker tag "$image" "osslcache-base:$suite-$hash"
# Drop the previous build's hash tag so its layers can be freed.
if [[ -n $current && $current != "$hash" ]]; then
  docker rmi "osslcache-base:$suite-$current" >/dev/null 2>&1 || true
fi
log "done in $((SECONDS - start))s: $image ($(docker image inspect -f '{{.Size}}' "$image" | numfmt --to=iec))"
