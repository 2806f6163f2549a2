#!/usr/bin/env bash
# matrix.sh [VERSIONS...] — run the conformance suite against each OpenSSL line
# and merge the reports into docs/conformance-matrix.md.
#
# VERSIONS default to: 1.1.1 3.0 3.5 3.6. For each: build the base image if
# missing or stale, build osslcache-test:VERSION, run docker/run-conformance.sh.
# A failing version does not stop the others; the script then exits 1.
# The merge takes every OUTDIR/report-*.json, so reports of versions not run
# this time are kept from earlier runs (those run this time are removed first).
#
# Env: OUTDIR (default out/conformance in the repo), MATRIX_OUT (default
# docs/conformance-matrix.md in the repo), OSSLCACHE_TEST_CMDS (see
# run-conformance.sh), BASE (see build-test.sh; only with one version).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
outdir=${OUTDIR:-$repo/out/conformance}
matrix_out=${MATRIX_OUT:-$repo/docs/conformance-matrix.md}
PATH=$PATH:/usr/local/go/bin

versions=("$@")
[[ ${#versions[@]} -gt 0 ]] || versions=(1.1.1 3.0 3.5 3.6)
mkdir -p "$outdir"

say() { printf '\n=== %s\n' "$*" >&2; }
t0=$SECONDS
summary=()
failed=0

for v in "${versions[@]}"; do
  rm -f "$outdir/report-$v.json" "$outdir/report-$v.md"

  say "[$v] build image"
  t=$SECONDS
  if ! "$here/build-test.sh" "$v"; then
    summary+=("$v: image build FAILED after $((SECONDS - t))s")
    failed=1
    continue
  fi
  built=$((SECONDS - t))
  say "[$v] image ready in ${built}s"

  say "[$v] run conformance"
  t=$SECONDS
  if "$here/run-conformance.sh" "$v" "$outdir"; then
    status=ok
  else
    status="FAILED (exit $?)"
    failed=1
  fi
  summary+=("$v: build ${built}s, run $((SECONDS - t))s, $status")
  say "[$v] run $status in $((SECONDS - t))s"
done

say "merge reports into ${matrix_out#"$repo"/}"
shopt -s nullglob
reports=("$outdir"/report-*.json)
if [[ ${#reports[@]} -eq 0 ]]; then
  echo "no report in $outdir: matrix not written" >&2
  failed=1
elif ! (cd "$repo" && go run ./internal/matrix/cmd -o "$matrix_out" "${reports[@]}"); then
  echo "merge FAILED" >&2
  failed=1
fi

say "summary ($((SECONDS - t0))s in all)"
printf '  %s\n' "${summary[@]}" >&2
echo "  reports: $outdir" >&2
exit "$failed"
