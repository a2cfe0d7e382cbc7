#!/usr/bin/env bash
# Mesh benchmark: what a pair of sidecar proxies adds between a client and a server, for
# Outrider and for two C proxies doing the same mTLS job, in one run on one machine.
#
# Topology (all private: three network namespaces, nothing in the host's namespace changes):
#
#   client netns (fortio load, iperf3 -c)          server netns (fortio server, iperf3 -s)
#     nat OUTPUT REDIRECT → client-side proxy  ── mTLS ──>  nat PREROUTING REDIRECT → server-side
#     eth0 10.203.X.2                                        eth0 10.203.X.3   proxy → 127.0.0.1
#            └────── veth ── bridge orbench0 (in its own netns) ── veth ──────┘
#
# Variants, interleaved (the order rotates each repetition):
#   direct    no proxy, no rules
#   outrider  the shipped sidecar, bin/outrider-proxy (cmd/outrider-proxy), on each side; the
#             capture rules of internal/mesh/netnstest (all TCP, exempt by mark 0x539 and -o lo);
#             SO_ORIGINAL_DST + endpoints
#   haproxy   Debian HAProxy in TCP mode: client side originates TLS 1.3 with a client
#             certificate, server side terminates it and requires a client certificate
#   nginx     Debian nginx stream module: proxy_ssl / ssl_verify_client, the same job
#   plain     the floor: the HAProxy pair relaying plain TCP (no TLS), what two extra hops
#             cost on this machine whatever the proxy does
#   allinone  diagnostic: the same proxy run as `bin/outrider proxy` from the all-in-one binary
#             (what the sidecar ran before it shipped alone), to show what the control plane's
#             code costs each sidecar in memory
# HAProxy and nginx cannot read SO_ORIGINAL_DST here, so their capture rules redirect per
# destination port to one listener each, and exempt them by owner (they run as UID 1337,
# the proxy UID of docs/mesh.md). Same redirect mechanism (nat REDIRECT) for every proxy.
#
# Per variant and repetition: a fortio warm-up, then fortio at BENCH_QPS over BENCH_CONNS
# keep-alive HTTP/1.1 connections for BENCH_DURATION (GET /echo?size=1024: 1 KiB answers,
# as Istio publishes its numbers) with each proxy's CPU and memory sampled from /proc
# (bench/mesh/procmon); then iperf3 with BENCH_BULK_STREAMS streams for BENCH_BULK_TIME
# seconds. Tables (bench/mesh/report) and the exact commands go to bench/_out/mesh-results.md.
#
# Needs root (namespaces, iptables in them). Installs haproxy, nginx, libnginx-mod-stream and
# iperf3 from Debian and fortio (go install) into bench/.tools/bin when missing. Removes
# everything it created on exit and on Ctrl-C; a run that was SIGKILLed is cleaned up by the
# next one (its namespaces are listed in bench/_out/mesh/active).
#
# Environment:
#   BENCH_RUNS=3            repetitions of every variant (medians are reported)
#   BENCH_QPS=1000          fixed request rate
#   BENCH_CONNS=16          fortio connections
#   BENCH_DURATION=30s      latency window
#   BENCH_WARMUP=3s         fortio warm-up before each window (not recorded)
#   BENCH_SIZE=1024         response body bytes
#   BENCH_BULK_TIME=10      iperf3 seconds (plus 1 s omitted at the start)
#   BENCH_BULK_STREAMS=4    iperf3 parallel streams
#   BENCH_THREADS=2         HAProxy nbthread and nginx worker_processes (Outrider: GOMAXPROCS default)
#   BENCH_PROFILE=0         1: build the binaries with symbols and record the Outrider pair with
#                           perf during the first repetition (runs/r1-outrider/perf-*.txt)
#   BENCH_VARIANTS="direct outrider haproxy nginx plain allinone"   direct must come first
#
# Usage: make bench-mesh   (or bench/mesh/run.sh)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

runs=${BENCH_RUNS:-3}
qps=${BENCH_QPS:-1000}
conns=${BENCH_CONNS:-16}
duration=${BENCH_DURATION:-30s}
warmup=${BENCH_WARMUP:-3s}
size=${BENCH_SIZE:-1024}
bulk_time=${BENCH_BULK_TIME:-10}
bulk_streams=${BENCH_BULK_STREAMS:-4}
threads=${BENCH_THREADS:-2}
read -r -a variants <<<"${BENCH_VARIANTS:-direct outrider haproxy nginx plain allinone}"
[[ ${variants[0]} == direct ]] || { echo "bench-mesh: BENCH_VARIANTS must start with direct" >&2; exit 1; }

fortio_version=v1.66.5
out=bench/_out
work=$out/mesh
results=$out/mesh-results.md
tools_bin=bench/.tools/bin
fortio=$tools_bin/fortio
proxy_uid=1337 # docs/mesh.md: the proxy's UID; HAProxy and nginx run as it
app_port=8080  # fortio server
bulk_port=5201 # iperf3 server

log() { echo "bench-mesh: $*" >&2; }
die() {
	echo "bench-mesh: ERROR: $*" >&2
	exit 1
}

[[ $(id -u) -eq 0 ]] || die "needs root: it creates network namespaces and iptables rules inside them"
for t in ip iptables-restore ss setpriv curl; do
	command -v "$t" >/dev/null || die "needs $t (packages iproute2, iptables, util-linux, curl)"
done

commands=() # the exact command of every long-running process, for the results
source bench/mesh/lib.sh
source bench/mesh/peers.sh
source bench/mesh/measure.sh

# --- tools -------------------------------------------------------------------------------
install_peers
mkdir -p "$work/bin"
# Both binaries as `make build` builds them (the sidecar with the Makefile's PROXY_TAGS), so they
# differ only in what they link. BENCH_PROFILE=1 keeps their symbols for perf (the code is the same).
make_build=(make -s build)
if [[ ${BENCH_PROFILE:-0} == 1 ]]; then
	command -v perf >/dev/null || die "BENCH_PROFILE=1 needs perf (package linux-perf)"
	make_build+=(LDFLAGS=)
fi
log "${make_build[*]}"
"${make_build[@]}" >/dev/null || die "make build failed"
for h in certs procmon report; do
	go build -o "$work/bin/$h" "./bench/mesh/$h" || die "bench/mesh/$h does not build"
done

# --- network -----------------------------------------------------------------------------
clean_stale
rm -rf "$work/runs" "$work/conf" "$work/logs" "$work/certs"
mkdir -p "$work/runs" "$work/conf" "$work/logs"
make_network
log "namespaces $ns_cli ($cli_ip) and $ns_srv ($srv_ip) on bridge $bridge in $ns_sw"

# --- identities and configurations ----------------------------------------------------------
"$work/bin/certs" --out "$work/certs" --client-ip "$cli_ip" --server-ip "$srv_ip" || die "certs failed"
# HAProxy and nginx run as the proxy UID and read their own keys.
chown "$proxy_uid:$proxy_uid" "$work/certs"/*.key "$work/certs"/*.pem
write_peer_configs

# --- servers and proxies ------------------------------------------------------------------
start fortio-server "$ns_srv" "$fortio" server -http-port "$app_port" -grpc-port disabled \
	-redirect-port disabled -tcp-port disabled -udp-port disabled -data-dir "$work/logs"
start iperf3-server "$ns_srv" iperf3 -s -p "$bulk_port"
wait_listen "$ns_srv" "$app_port" fortio-server
wait_listen "$ns_srv" "$bulk_port" iperf3-server
for v in "${variants[@]}"; do
	[[ $v == direct ]] || "start_$v"
done

# --- smoke test: each path answers, and through the proxies the server sees 127.0.0.1 -----
for v in "${variants[@]}"; do
	use_rules "$v"
	seen=$(ip netns exec "$ns_cli" "$fortio" curl -quiet "http://$srv_ip:$app_port/debug" 2>/dev/null | grep -o 'request from [0-9.]*' | head -1) ||
		die "$v: the debug request failed; see $work/logs"
	want="request from 127.0.0.1"
	[[ $v == direct ]] && want="request from $cli_ip"
	[[ $seen == "$want" ]] || die "$v: the server saw '$seen', want '$want': traffic did not take the $v path"
	ip netns exec "$ns_cli" iperf3 -c "$srv_ip" -p "$bulk_port" -t 1 >/dev/null 2>&1 || die "$v: iperf3 through the path failed"
	log "smoke: $v path answers ($seen)"
done

# --- measurements --------------------------------------------------------------------------
fortio_cmd=(load -qps "$qps" -c "$conns" -t "$duration" -jitter -r 0.00001 -p "50,90,99,99.9" -quiet)
url="http://$srv_ip:$app_port/echo?size=$size"
iperf_cmd=(-c "$srv_ip" -p "$bulk_port" -P "$bulk_streams" -t "$bulk_time" -O 1 -J)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
run_date=$(date -u +%Y-%m-%dT%H:%MZ)
n=${#variants[@]}
for ((rep = 1; rep <= runs; rep++)); do
	for ((i = 0; i < n; i++)); do
		v=${variants[$(((i + rep - 1) % n))]}
		measure "$rep" "$v"
	done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
outrider_metrics
write_results
echo
cat "$results"
