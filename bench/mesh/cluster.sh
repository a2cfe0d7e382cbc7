#!/usr/bin/env bash
# Mesh benchmark, in-cluster variant: fortio pod → fortio pod over the local cluster's bridge,
# in a plain namespace (direct) and in a meshed one (capture init container and proxy sidecar
# injected, an AccessPolicy allowing the client's ServiceAccount), with the same load as
# bench/mesh/run.sh; then the pod start-up delay that injection adds (create → Ready, plain vs
# meshed). bench/mesh/incluster does the work; see its doc comment and bench/README.md.
#
# Cluster state it touches: two namespaces bench-mesh-<id>-{plain,meshed} (deleted at the end,
# also on Ctrl-C and SIGTERM; a SIGKILLed run leaves them in bench/_out/mesh-cluster/active and
# the next run deletes them) and the image 127.0.0.1:5000/fortio:bench (stays).
#
# Needs root (the proxies' /proc entries; `ctr task ls` on the cluster's containerd socket,
# read only) and the local cluster with the mesh on (`make up`, run here when Outrider is
# missing). Builds fortio static (CGO_ENABLED=0 go install) into bench/.tools/static.
#
# Environment (the load is bench/mesh/run.sh's):
#   BENCH_RUNS=3            repetitions of each path (medians are reported)
#   BENCH_QPS=1000          fixed request rate
#   BENCH_CONNS=16          fortio connections
#   BENCH_DURATION=30s      latency window
#   BENCH_WARMUP=3s         fortio warm-up before each window (not recorded)
#   BENCH_SIZE=1024         answer bytes at the fixed rate
#   BENCH_BULK_TIME=10      bulk window, seconds (0: none): fortio at full speed
#   BENCH_BULK_CONNS=4      bulk connections
#   BENCH_BULK_SIZE=1048576 bulk answer bytes (at most 1 MiB)
#   BENCH_STARTUP_PODS=10   pods per namespace in the start-up measurement (0: none)
#
# Usage: make bench-mesh-cluster   (or bench/mesh/cluster.sh)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

fortio_version=v1.66.5
kubeconfig=.outrider/kubeconfig
kubectl=.outrider/bin/kubectl
work=bench/_out/mesh-cluster
static=bench/.tools/static
socket=/run/outrider-cluster/containerd/containerd.sock

log() { echo "bench-mesh-cluster: $*" >&2; }
die() {
	echo "bench-mesh-cluster: ERROR: $*" >&2
	exit 1
}

[[ $(id -u) -eq 0 ]] || die "needs root: it reads the proxies' /proc entries and asks containerd for their PIDs"
command -v ctr >/dev/null || die "needs ctr (package containerd)"

# --- cluster -----------------------------------------------------------------------------
installed() {
	[[ -x $kubectl && -f $kubeconfig && -S $socket ]] || return 1
	local k=("$kubectl" --kubeconfig "$kubeconfig" --request-timeout 10s)
	"${k[@]}" get --raw /readyz >/dev/null 2>&1 &&
		"${k[@]}" -n outrider-system get deployment outrider-controller >/dev/null 2>&1 &&
		"${k[@]}" -n outrider-system get deployment outrider-identity >/dev/null 2>&1
}
if ! installed; then
	log "the local cluster, Outrider or its identity service is not up: make up"
	make up || die "make up failed"
	installed || die "Outrider's controller and identity service are still missing after make up"
fi
for d in outrider-controller outrider-identity; do
	"$kubectl" --kubeconfig "$kubeconfig" -n outrider-system rollout status "deployment/$d" --timeout 3m >&2 ||
		die "the $d Deployment is not ready"
done

# --- tools and the fortio image ----------------------------------------------------------
stamp=$static/.fortio.version
if [[ ! -x $static/fortio || ! -f $stamp || $(<"$stamp") != "$fortio_version" ]]; then
	log "CGO_ENABLED=0 go install fortio.org/fortio@$fortio_version (into $static)"
	mkdir -p "$static"
	tmp=$(mktemp -d)
	# Outside the repository, so no go.mod or go.work is consulted.
	(cd "$tmp" && CGO_ENABLED=0 GOBIN="$root/$static" GOTOOLCHAIN=local GOWORK=off GOFLAGS=-mod=mod \
		go install "fortio.org/fortio@$fortio_version") || die "fortio does not install"
	rm -rf "$tmp"
	echo "$fortio_version" >"$stamp"
fi
image=$(TAG=bench hack/cluster/image.sh fortio "$static/fortio") || die "could not push the fortio image"
image=${image##*$'\n'}
[[ $image == 127.0.0.1:5000/fortio@sha256:* ]] || die "unexpected image reference from image.sh: $image"
log "fortio image $image"

mkdir -p "$work/bin"
for h in procmon incluster; do
	go build -o "$work/bin/$h" "./bench/mesh/$h" || die "bench/mesh/$h does not build"
done

bulk_time=${BENCH_BULK_TIME:-10}
args=(--kubeconfig "$kubeconfig" --kubectl "$kubectl" --image "$image" --procmon "$work/bin/procmon"
	--containerd-socket "$socket" --work "$work" --out bench/_out/mesh-cluster-results.md
	--runs "${BENCH_RUNS:-3}" --qps "${BENCH_QPS:-1000}" --conns "${BENCH_CONNS:-16}"
	--duration "${BENCH_DURATION:-30s}" --warmup "${BENCH_WARMUP:-3s}" --size "${BENCH_SIZE:-1024}"
	--bulk-time "${bulk_time%s}s" --bulk-conns "${BENCH_BULK_CONNS:-4}" --bulk-size "${BENCH_BULK_SIZE:-1048576}"
	--startup-pods "${BENCH_STARTUP_PODS:-10}")
log "$work/bin/incluster ${args[*]}"
exec "$work/bin/incluster" "${args[@]}" --command "make bench-mesh-cluster  # bench/mesh/cluster.sh -> incluster ${args[*]}"
