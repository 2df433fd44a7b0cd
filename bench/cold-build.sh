#!/usr/bin/env bash
# Cold build of the world's binaries: empty Go build cache and empty output cache, the module
# cache kept (module downloads depend on the network, not on us). Prints the seconds taken.
# Takes about 25 minutes on 2 cores; run by hand or `make bench-cold`, not by `make bench`.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
start=$(date +%s)
GOCACHE="$tmp/gocache" SLUICE_CACHE="$tmp/out" bash "$here/test/world/build-binaries.sh" >/dev/null
echo $(( $(date +%s) - start ))
