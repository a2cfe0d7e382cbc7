# shellcheck shell=bash
# Building what the cluster runs: the Kubernetes binaries (from the tools
# module hack/cluster/k8s) and the small helper programs of hack/cluster.

K8S_COMMANDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

# go_k8s ARGS...: run go in the tools module. GONOSUMDB because several
# k8s.io staging modules are missing from the checksum database; -mod=mod so
# the committed go.sum is used (and completed if a Go upgrade needs more).
go_k8s() {
  (cd "${CLUSTER_SRC}/k8s" && GOWORK=off GONOSUMDB=k8s.io GOFLAGS=-mod=mod go "$@")
}

k8s_ldflags() {
  local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  local p=k8s.io/component-base/version
  # The same stamps for the client-go copy of the version package, so kubectl
  # and the components' User-Agents also report the real version.
  local flags="-s -w"
  for pkg in "$p" k8s.io/client-go/pkg/version; do
    flags+=" -X ${pkg}.gitVersion=${K8S_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
    flags+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$flags"
}

# build_k8s: build each missing Kubernetes binary into ${K8S_BIN}. Binaries
# are keyed by version in the path, so an existing one is never rebuilt.
build_k8s() {
  command -v go >/dev/null || die "go is not on PATH (expected /usr/local/go/bin/go)"
  mkdir -p "$K8S_BIN"
  local cmd ldflags started
  ldflags=$(k8s_ldflags)
  for cmd in "${K8S_COMMANDS[@]}"; do
    [[ -x "${K8S_BIN}/${cmd}" ]] && continue
    log "building ${cmd} ${K8S_VERSION} (first time takes a few minutes)…"
    started=$SECONDS
    # Build to a temporary name and rename, so an interrupted build never
    # leaves a half-written binary that a later run would trust.
    go_k8s build -trimpath -ldflags "$ldflags" -o "${K8S_BIN}/.${cmd}.tmp" "k8s.io/kubernetes/cmd/${cmd}" \
      || die "building ${cmd} failed"
    mv -f "${K8S_BIN}/.${cmd}.tmp" "${K8S_BIN}/${cmd}"
    log "built ${cmd} in $((SECONDS - started))s"
  done
}

# build_tools: the registry/image tool (main module) and the pause program.
# go build is cheap when nothing changed (build cache), so always run it;
# install only when the output differs, keeping the running registry's binary
# in place otherwise.
build_tools() {
  mkdir -p "$TOOLS_BIN"
  build_tool ocitool ./hack/cluster/ocitool
  build_tool pause ./hack/cluster/pause
  build_tool incluster-check ./hack/cluster/incluster-check
  build_cri
}

# build_cri: the small CRI client (tools module: it needs k8s.io/cri-api).
build_cri() {
  local tmp="${TOOLS_BIN}/.cri.tmp"
  go_k8s build -trimpath -ldflags "-s -w" -o "$tmp" ./cri || die "building hack/cluster/k8s/cri failed"
  if cmp -s "$tmp" "${TOOLS_BIN}/cri"; then rm -f "$tmp"; else mv -f "$tmp" "${TOOLS_BIN}/cri"; fi
}

build_tool() {
  local name=$1 pkg=$2 tmp
  tmp="${TOOLS_BIN}/.${name}.tmp"
  (cd "$REPO_ROOT" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags "-s -w" -o "$tmp" "$pkg") \
    || die "building ${pkg} failed"
  if cmp -s "$tmp" "${TOOLS_BIN}/${name}"; then
    rm -f "$tmp"
  else
    mv -f "$tmp" "${TOOLS_BIN}/${name}"
  fi
}
