#!/usr/bin/env bash
# Builds everything the local world runs from Go modules (no release downloads and no package
# manager exist here): etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok,
# Prometheus and helm, Traefik (the real gateway), the tests' GitOps health checker, plus the pinned
# Gateway API CRDs and kwok's stage definitions.
# Output (printed on the last line): $SLUICE_CACHE/world, holding bin/, gateway-api/, kwok-stages/.
# Each component has its own cache key (its pin, its recipe below, the Go toolchain), so changing
# one pin rebuilds that component alone. Safe to run concurrently (a lock) and again (a no-op).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
cache=${SLUICE_CACHE:-$HOME/.cache/sluice}
out="$cache/world"
bin="$out/bin"
stamps="$out/stamps"
mkdir -p "$bin" "$stamps" "$out/src"
exec 9>"$cache/.build-lock"
flock 9
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
log() { printf '[build-binaries] %s\n' "$*" >&2; }
gover=$(go version)
start=$(date +%s)

# fresh NAME RECIPE...: true when NAME's stamp differs from the hash of its recipe (the strings
# that decide its build); done_ NAME records it after a successful build.
key_of() { printf '%s\n' "$gover" "$@" | sha256sum | cut -c1-16; }
fresh() { local name=$1; shift; [[ -f "$stamps/$name" && "$(cat "$stamps/$name")" == "$(key_of "$@")" ]]; }
done_() { local name=$1; shift; key_of "$@" >"$stamps/$name"; }

# Kubernetes: k8s.io/kubernetes replaces every staging module with ./staging/..., which does not
# exist in the module zip, so a wrapper module points each one at its published v0.X.Y instead.
k8s_recipe=("k8s v1" "$K8S_VERSION" "$K8S_STAGING_VERSION")
if ! fresh kubernetes "${k8s_recipe[@]}"; then
  k8s_src="$out/src/kubernetes"
  mkdir -p "$k8s_src"
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
  log "building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (about 15 minutes on 2 cores with a cold Go cache)"
  (cd "$k8s_src" && go build -trimpath -ldflags "$ldflags" -o "$bin/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubectl)
  done_ kubernetes "${k8s_recipe[@]}"
fi

# Modules whose own go.mod carries replace directives refuse `go install pkg@v`; a wrapper module
# that merely requires them builds them with their published dependencies. Used for all of them.
build_wrapped() { # name module version package [ldflags]
  local name=$1 mod=$2 ver=$3 pkg=$4 ldflags=${5:-} dir="$out/src/$1"
  fresh "$name" "wrapped v1" "$mod" "$ver" "$pkg" "$ldflags" && return 0
  mkdir -p "$dir"
  printf 'module sluice.local/world/%s\ngo 1.26\nrequire %s %s\n' "$name" "$mod" "$ver" >"$dir/go.mod"
  rm -f "$dir/go.sum"
  log "building $name ($mod $ver)"
  (cd "$dir" && go build -trimpath -ldflags "-s -w $ldflags" -o "$bin/$name" "$pkg")
  done_ "$name" "wrapped v1" "$mod" "$ver" "$pkg" "$ldflags"
}
build_wrapped etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" go.etcd.io/etcd/server/v3
build_wrapped kwok sigs.k8s.io/kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok
# Prometheus without the `builtinassets` tag: the HTTP API and scraping are all sluice needs; the
# web UI then answers that its assets are missing, which the world never asks for.
build_wrapped prometheus github.com/prometheus/prometheus "$PROMETHEUS_VERSION" github.com/prometheus/prometheus/cmd/prometheus \
  "-X github.com/prometheus/common/version.Version=$PROMETHEUS_APP_VERSION"
# helm renders and checks the chart in tests (charts/sluice).
build_wrapped helm helm.sh/helm/v4 "$HELM_VERSION" helm.sh/helm/v4/cmd/helm \
  "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION"

# Traefik, the real Gateway API implementation of the real-gateway tests (test/world/real-gateway).
# Built as the main module from its own source in the module cache, so its replace directives
# (forks of gorilla/mux and go-http-auth) apply as in its release; in a wrapper module they would
# not. v3.7 cannot be built from the proxy (a local replace of traefik/dynamic/ext and two lego
# DNS-provider modules the proxy refuses); v3.6 can. See docs/real-gateway.md.
traefik_recipe=("traefik v1" "$TRAEFIK_VERSION")
if ! fresh traefik "${traefik_recipe[@]}"; then
  tk_src="$out/src/traefik"
  log "building traefik $TRAEFIK_VERSION (several minutes on 2 cores with a cold Go cache)"
  tk_dir=$(cd "$out/src" && go mod download -json "github.com/traefik/traefik/v3@$TRAEFIK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  rm -rf "$tk_src" && cp -r "$tk_dir" "$tk_src" && chmod -R u+w "$tk_src"
  (cd "$tk_src" && GOFLAGS=-mod=readonly go build -trimpath \
    -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" -o "$bin/traefik" ./cmd/traefik)
  done_ traefik "${traefik_recipe[@]}"
fi

# The tests' GitOps health checker (test/gitops-health): kstatus as Flux uses it, and Argo CD's
# Lua health scripts run by gopher-lua, both from their Go modules (pinned in its go.mod).
gh_src="$here/../gitops-health"
gh_recipe=("gitops-health v1" "$(cat "$gh_src/go.mod" "$gh_src/go.sum" "$gh_src/main.go" | sha256sum | cut -c1-16)")
if ! fresh gitops-health "${gh_recipe[@]}"; then
  log "building gitops-health (kstatus and Argo CD's Lua runtime)"
  (cd "$gh_src" && GOFLAGS=-mod=readonly go build -trimpath -ldflags "-s -w" -o "$bin/gitops-health" .)
  done_ gitops-health "${gh_recipe[@]}"
fi

# Gateway API CRDs ship inside the module zip; copy the standard channel out of the module cache.
if ! fresh gateway-api "$GATEWAY_API_VERSION"; then
  gw_dir=$(cd "$out/src" && go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  rm -rf "$out/gateway-api" && mkdir -p "$out/gateway-api"
  cp "$gw_dir"/config/crd/standard/*.yaml "$out/gateway-api/"
  chmod -R u+w "$out/gateway-api"
  done_ gateway-api "$GATEWAY_API_VERSION"
fi

# kwok simulates nothing without Stage definitions; its module ships the standard "fast" ones
# (nodes Ready at once with lease heartbeats; pods Running and Ready at once, deleted promptly).
if ! fresh kwok-stages "$KWOK_VERSION"; then
  kwok_dir=$(cd "$out/src/kwok" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  rm -rf "$out/kwok-stages" && mkdir -p "$out/kwok-stages"
  cp "$kwok_dir"/kustomize/stage/node/fast/node-initialize.yaml \
     "$kwok_dir"/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
     "$kwok_dir"/kustomize/stage/pod/fast/pod-ready.yaml \
     "$kwok_dir"/kustomize/stage/pod/fast/pod-complete.yaml \
     "$kwok_dir"/kustomize/stage/pod/fast/pod-delete.yaml "$out/kwok-stages/"
  chmod -R u+w "$out/kwok-stages"
  done_ kwok-stages "$KWOK_VERSION"
fi

took=$(( $(date +%s) - start ))
if (( took > 2 )); then
  echo "$took" >"$out/build-seconds"
  log "done in $took s: $bin"
fi
echo "$out"
