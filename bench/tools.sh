#!/usr/bin/env bash
# Benchmark tools, built from Go modules into the cache (outside git). Prints the bin directory.
# vegeta: a constant-rate (open-loop) HTTP load generator in Go; it keeps the load generator's own
# pauses out of the webhook's latency figures, which a Node generator on the same 2 cores did not.
set -euo pipefail
VEGETA_VERSION=v12.13.0
bin="${SLUICE_CACHE:-$HOME/.cache/sluice}/tools-vegeta-$VEGETA_VERSION"
if [[ ! -x "$bin/vegeta" ]]; then
  mkdir -p "$bin"
  GOTOOLCHAIN=local GOBIN="$bin" go install "github.com/tsenart/vegeta/v12@$VEGETA_VERSION" >&2
fi
echo "$bin"
