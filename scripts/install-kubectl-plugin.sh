#!/bin/sh
# Installs `kubectl sluice` from this checkout: a kubectl-sluice wrapper in DIR (default
# ~/.local/bin) that runs the built plugin with this machine's Node.js. `make plugin` builds first.
set -eu
dir="${1:-$HOME/.local/bin}"
here="$(cd "$(dirname "$0")/.." && pwd)"
node="$(command -v node)"
mkdir -p "$dir"
# The node flags on the plugin's own #! line (bin/kubectl-sluice.ts says why), passed on here.
flags="$(head -n 1 "$here/dist/bin/kubectl-sluice.js" | sed -n 's/^#!.* node *//p')"
printf '#!/bin/sh\nexec "%s" %s "%s/dist/bin/kubectl-sluice.js" "$@"\n' "$node" "$flags" "$here" >"$dir/kubectl-sluice"
chmod 755 "$dir/kubectl-sluice"
echo "installed $dir/kubectl-sluice (on PATH? then: kubectl sluice --help)"
