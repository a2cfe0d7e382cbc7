#!/usr/bin/env bash
# Admission benchmark: Outrider's webhooks under pod creations at fixed rates, through the
# real API server of the local cluster.
#
# Steps: make sure the local cluster runs with Outrider installed (`make up` when not; it is
# idempotent); build bench/admission/loadgen; run it at each rate for BENCH_DURATION after a
# warm-up, with server-side dry-run creates (nothing is persisted), first in a namespace
# excluded from the webhooks (baseline), then in one they judge. It prints a table of client,
# API-server and controller latency quantiles plus controller CPU/RSS and writes it to
# bench/_out/admission-results.md (and a dated copy in bench/_out/admission/).
#
# Cluster state it touches, and restores: two namespaces bench-admission-* (deleted at the
# end), and the baseline namespace's name in the namespaceSelector of Outrider's two pod
# webhooks (removed at the end, also on Ctrl-C; a run killed with SIGKILL leaves it, and the
# next run removes it).
#
# Environment:
#   BENCH_RATES=50,200     pod creations per second, one measured window each
#   BENCH_DURATION=60s     measured window per rate
#   BENCH_WARMUP=5s        warm-up per rate (discarded)
#   BENCH_BASELINE=1       0 skips the baseline runs (no change to the webhook configuration)
#   BENCH_BAD_SHARE=0.10   share of non-compliant (refused) pods
#
# Signature scenario (make bench-admission-signatures, BENCH_SIGNATURES=1): instead of the
# fixed rates, a namespace whose SecurityPolicy requires images under
# 127.0.0.1:5000/bench-signed/** to be signed by a key generated for the run; a few hundred
# signed copies of the busybox image are pushed there (they stay; each run uses a new
# repository). Phases: plain (the control), warm (one verified image), cold (a new image per
# pod), burst (50 pods naming one new image at once); then the cosign CLI and
# `outrider image verify` time the same verifications, side by side. Builds bin/outrider and
# bin/tools/cosign first. Results in bench/_out/admission-signatures-results.md.
#   BENCH_SIG_WARM_RATE=50  BENCH_SIG_WARM_DURATION=30s   plain and warm phases
#   BENCH_SIG_COLD_RATE=20  BENCH_SIG_COLD_DURATION=15s   cold phase (rate x (2s + duration) images)
#   BENCH_SIG_PEER_IMAGES=20                              verifications per CLI
#
# Usage: make bench-admission   (or bench/admission/run.sh)
#        make bench-admission-signatures   (or BENCH_SIGNATURES=1 bench/admission/run.sh)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

rates=${BENCH_RATES:-50,200}
duration=${BENCH_DURATION:-60s}
warmup=${BENCH_WARMUP:-5s}
bad_share=${BENCH_BAD_SHARE:-0.10}
baseline=true
[[ ${BENCH_BASELINE:-1} == 0 ]] && baseline=false
kubeconfig=.outrider/kubeconfig
kubectl=.outrider/bin/kubectl
out=bench/_out
results=$out/admission-results.md
signatures=${BENCH_SIGNATURES:-0}
[[ $signatures == 1 ]] && results=$out/admission-signatures-results.md
loadgen=bench/.tools/bin/admission-loadgen

log() { echo "bench-admission: $*" >&2; }
die() {
	echo "bench-admission: ERROR: $*" >&2
	exit 1
}

# --- cluster -------------------------------------------------------------------
installed() {
	[[ -x $kubectl && -f $kubeconfig ]] || return 1
	local k=("$kubectl" --kubeconfig "$kubeconfig" --request-timeout 10s)
	"${k[@]}" get --raw /readyz >/dev/null 2>&1 &&
		"${k[@]}" -n outrider-system get deployment outrider-controller >/dev/null 2>&1 &&
		"${k[@]}" get validatingwebhookconfiguration outrider-validating >/dev/null 2>&1
}
if ! installed; then
	log "the local cluster or Outrider is not up: make up"
	make up || die "make up failed"
	installed || die "Outrider is still not installed after make up"
fi
"$kubectl" --kubeconfig "$kubeconfig" -n outrider-system rollout status deployment/outrider-controller --timeout 3m >&2 ||
	die "the controller Deployment is not ready"

# --- build ---------------------------------------------------------------------
log "go build -o $loadgen ./bench/admission/loadgen"
mkdir -p "$(dirname "$loadgen")" "$out"
go build -trimpath -o "$loadgen" ./bench/admission/loadgen || die "loadgen does not build"
if [[ $signatures == 1 ]]; then
	log "make build bin/tools/cosign (the CLI peers of the signature scenario)"
	make --no-print-directory build bin/tools/cosign >&2 || die "could not build bin/outrider or bin/tools/cosign"
fi

# --- run -----------------------------------------------------------------------
if [[ $signatures == 1 ]]; then
	target=bench-admission-signatures
	args=(--kubeconfig "$kubeconfig" --rates= --baseline=false --warmup "$warmup" --signatures
		--sig-warm-rate "${BENCH_SIG_WARM_RATE:-50}" --sig-warm-duration "${BENCH_SIG_WARM_DURATION:-30s}"
		--sig-cold-rate "${BENCH_SIG_COLD_RATE:-20}" --sig-cold-duration "${BENCH_SIG_COLD_DURATION:-15s}"
		--sig-peer-images "${BENCH_SIG_PEER_IMAGES:-20}" --cosign bin/tools/cosign --outrider bin/outrider
		--out "$results")
else
	target=bench-admission
	args=(--kubeconfig "$kubeconfig" --rates "$rates" --duration "$duration" --warmup "$warmup"
		--bad-share "$bad_share" --baseline="$baseline" --out "$results")
fi
log "$loadgen ${args[*]}"
rc=0
"$loadgen" "${args[@]}" --command "make $target  # bench/admission/run.sh -> admission-loadgen ${args[*]}" || rc=$?
# Keep every run: on a shared machine some runs are disturbed, and the report says which.
if [[ -f $results ]]; then
	mkdir -p "$out/admission"
	base=results
	[[ $signatures == 1 ]] && base=signatures
	cp "$results" "$out/admission/$base-$(date -u +%Y%m%dT%H%M%SZ).md"
fi
exit "$rc"
