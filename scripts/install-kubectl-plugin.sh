#!/bin/sh
# Installs `kubectl sluice` from this checkout: a kubectl-sluice wrapper in DIR (default
# ~/.local/bin) that runs the built plugin with this machine's Node.js. `make plugin` builds first.
set -eu
dir="${1:-$HOME/.local/bin}"
here="$(cd "$(dirname "$0")/.." && pwd)"
node="$(command -v node)"
mkdir -p "$dir"
printf '#!/bin/sh\nexec "%s" "%s/dist/bin/kubectl-sluice.js" "$@"\n' "$node" "$here" >"$dir/kubectl-sluice"
chmod 755 "$dir/kubectl-sluice"
echo "installed $dir/kubectl-sluice (on PATH? then: kubectl sluice --help)"
