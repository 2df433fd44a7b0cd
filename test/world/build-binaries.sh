#!/usr/bin/env bash
# Builds the local world's control plane from Go modules (no release downloads exist here).
# Output: $SLUICE_CACHE/world-<hash of versions.env>/bin/{etcd,kube-apiserver,kube-controller-manager,
# kube-scheduler,kubectl,kwok} and .../gateway-api/ (the pinned module's standard CRDs).
# Idempotent: a finished build leaves a stamp file and is never rebuilt until a pin changes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
cache=${SLUICE_CACHE:-$HOME/.cache/sluice}
# The key covers the pins, this script and the Go toolchain: a change to any of them rebuilds.
key=$( { cat "$here/versions.env" "$here/build-binaries.sh"; go version; } | sha256sum | cut -c1-12)
out="$cache/world-$key"
bin="$out/bin"
if [[ -f "$out/.complete" ]]; then
  echo "$out"
  exit 0
fi
mkdir -p "$bin" "$out/src"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
log() { printf '[build-binaries] %s\n' "$*" >&2; }
start=$(date +%s)

# Kubernetes: k8s.io/kubernetes replaces every staging module with ./staging/..., which does not
# exist in the module zip, so a wrapper module points each one at its published v0.X.Y instead.
k8s_src="$out/src/kubernetes"
mkdir -p "$k8s_src"
if [[ ! -x "$bin/kube-apiserver" || ! -x "$bin/kubectl" ]]; then
  log "resolving k8s.io/kubernetes $K8S_VERSION"
  modfile=$(cd "$k8s_src" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  {
    echo "module sluice.local/world/kubernetes"
    echo "go 1.26"
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo "replace ("
    grep -E '^\s*k8s\.io/[a-z0-9-]+ => \./staging/' "$modfile" | awk -v v="$K8S_STAGING_VERSION" '{print "\t" $1 " => " $1 " " v}'
    echo ")"
  } >"$k8s_src/go.mod"
  ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitTreeState=clean"
  major=${K8S_VERSION#v}; minor=${major#*.}; minor=${minor%%.*}; major=${major%%.*}
  ldflags+=" -X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$minor"
  log "building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (this takes a while on a cold cache)"
  (cd "$k8s_src" && go build -trimpath -ldflags "$ldflags" -o "$bin/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubectl)
fi

# etcd and kwok: their own go.mod files carry replace directives, so `go install pkg@v` refuses
# them; a wrapper module that merely requires them builds them with the published dependencies.
build_wrapped() { # name module version package
  local name=$1 mod=$2 ver=$3 pkg=$4 dir="$out/src/$1"
  [[ -x "$bin/$name" ]] && return 0
  mkdir -p "$dir"
  printf 'module sluice.local/world/%s\ngo 1.26\nrequire %s %s\n' "$name" "$mod" "$ver" >"$dir/go.mod"
  log "building $name ($mod $ver)"
  (cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$bin/$name" "$pkg")
}
build_wrapped etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" go.etcd.io/etcd/server/v3
build_wrapped kwok sigs.k8s.io/kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok

# Gateway API CRDs ship inside the module zip; copy the standard channel out of the module cache.
gw_dir=$(cd "$out/src" && go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
rm -rf "$out/gateway-api" && mkdir -p "$out/gateway-api"
cp "$gw_dir"/config/crd/standard/*.yaml "$out/gateway-api/"
chmod -R u+w "$out/gateway-api"

# kwok simulates nothing without Stage definitions; its module ships the standard "fast" ones
# (nodes Ready at once with lease heartbeats; pods Running and Ready at once, deleted promptly).
kwok_dir=$(cd "$out/src/kwok" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
rm -rf "$out/kwok-stages" && mkdir -p "$out/kwok-stages"
cp "$kwok_dir"/kustomize/stage/node/fast/node-initialize.yaml \
   "$kwok_dir"/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
   "$kwok_dir"/kustomize/stage/pod/fast/pod-ready.yaml \
   "$kwok_dir"/kustomize/stage/pod/fast/pod-complete.yaml \
   "$kwok_dir"/kustomize/stage/pod/fast/pod-delete.yaml "$out/kwok-stages/"
chmod -R u+w "$out/kwok-stages"

echo "$(( $(date +%s) - start ))" >"$out/build-seconds"
touch "$out/.complete"
log "done in $(cat "$out/build-seconds") s: $bin"
echo "$out"
