# Measurement and results of bench/mesh/run.sh. Sourced; uses run.sh's variables.

# shellcheck shell=bash

# monitor_args VARIANT prints procmon's NAME=PID arguments for the variant's two proxies.
monitor_args() {
	local side
	for side in client server; do
		echo "$1-$side=${pid_of[$1-$side]}"
	done
}

# profile_start DIR WINDOW VARIANT: with BENCH_PROFILE=1, records the Outrider pair with perf
# (kernel and user stacks, 499 Hz) during the first repetition's windows; perf's pid in prof.
prof=''
profile_start() {
	prof=''
	[[ ${BENCH_PROFILE:-0} == 1 && $3 == outrider && $1 == */r1-outrider ]] || return 0
	perf record -q -F 499 -g -o "$1/perf-$2.data" -p "${pid_of[outrider-client]},${pid_of[outrider-server]}" >/dev/null 2>&1 &
	prof=$!
	started+=("$prof")
}

# profile_stop DIR WINDOW stops perf (SIGINT, so it writes its file) and keeps the top of its
# report next to the run's results.
profile_stop() {
	[[ -n $prof ]] || return 0
	stop_pid "$prof" INT
	perf report -i "$1/perf-$2.data" --stdio --no-children --sort dso,symbol --percent-limit 0.5 2>/dev/null |
		grep -v '^$' | head -n 200 >"$1/perf-$2.txt" || true
	log "profile of the Outrider pair ($2 window): $1/perf-$2.txt"
}

# measure REP VARIANT runs the fixed-rate window and the bulk test on one path.
measure() {
	local rep=$1 v=$2 dir=$work_abs/runs/r$1-$2 mon='' groups=()
	mkdir -p "$dir"
	use_rules "$v"
	[[ $v == direct ]] || mapfile -t groups < <(monitor_args "$v")
	cut -d' ' -f1-3 /proc/loadavg >"$dir/loadavg-start"
	run_wait ip netns exec "$ns_cli" "$fortio" load -qps "$qps" -c "$conns" -t "$warmup" -quiet "$url" >"$dir/warmup.log" 2>&1 ||
		die "$v warm-up failed; see $dir/warmup.log"

	if ((${#groups[@]})); then
		"$work/bin/procmon" --out "$dir/fortio-proc.json" "${groups[@]}" &
		mon=$!
		started+=("$mon")
	fi
	profile_start "$dir" latency "$v"
	run_wait ip netns exec "$ns_cli" "$fortio" "${fortio_cmd[@]}" -json "$dir/fortio.json" "$url" >"$dir/fortio.log" 2>&1 ||
		die "$v: fortio failed; see $dir/fortio.log"
	[[ -z $mon ]] || stop_pid "$mon"
	profile_stop "$dir" latency

	if ((${#groups[@]})); then
		"$work/bin/procmon" --out "$dir/iperf-proc.json" "${groups[@]}" &
		mon=$!
		started+=("$mon")
	fi
	profile_start "$dir" bulk "$v"
	run_wait ip netns exec "$ns_cli" iperf3 "${iperf_cmd[@]}" >"$dir/iperf.json" 2>"$dir/iperf.err" ||
		die "$v: iperf3 failed; see $dir/iperf.json"
	[[ -z $mon ]] || stop_pid "$mon"
	profile_stop "$dir" bulk
	cut -d' ' -f1-3 /proc/loadavg >"$dir/loadavg-end"

	log "run $rep/$runs $v: $(jq -r '[.ActualQPS, (.DurationHistogram.Percentiles[] | .Value * 1000)] |
		"\(.[0] | floor) req/s, p50 \(.[1] * 1000 | round / 1000) ms, p90 \(.[2] * 1000 | round / 1000) ms, p99 \(.[3] * 1000 | round / 1000) ms"' "$dir/fortio.json"),\
 bulk $(jq -r '.end.sum_received | .bytes / .seconds / 1e6 | floor' "$dir/iperf.json") MB/s, load $(<"$dir/loadavg-end")"
}

# outrider_metrics keeps both Outrider proxies' counters: handshakes (full and resumed) and
# connections, to show sessions were resumed and every connection took the mesh path.
outrider_metrics() {
	local side ns
	[[ -n ${pid_of[outrider-client]:-} ]] || return 0
	for side in client server; do
		ns=$ns_cli
		[[ $side == server ]] && ns=$ns_srv
		ip netns exec "$ns" curl -fsS "http://127.0.0.1:$outrider_metrics_port/metrics" |
			grep -E '^outrider_proxy_(tls_handshakes_total|outbound_connections_total|connections_total|authorization_decisions_total)' \
				>"$work/logs/outrider-$side.metrics" || true
	done
}

versions() {
	echo "- outrider: $(git describe --always --dirty 2>/dev/null || echo dev), $(go env GOVERSION)"
	echo "- HAProxy: $(haproxy -v | head -n1 | cut -d' ' -f3) (Debian), $(haproxy -vv 2>/dev/null | grep -m1 'Running on OpenSSL' | sed 's/Running on //')"
	echo "- nginx: $(nginx -v 2>&1 | cut -d/ -f2) (Debian, libnginx-mod-stream), $(nginx -V 2>&1 | grep -m1 'built with OpenSSL' | sed 's/built with //')"
	echo "- fortio: $("$fortio" version 2>/dev/null | head -n1); iperf3: $(iperf3 -v | head -n1 | cut -d' ' -f2)"
}

settings() {
	cat <<EOF
| | Outrider | HAProxy | nginx |
|---|---|---|---|
| workers | GOMAXPROCS default ($(nproc)) | nbthread $threads | worker_processes $threads |
| TLS | 1.3, $suite (Go's choice with AES-NI), key exchange Go's default (X25519MLKEM768) | 1.3, $suite | 1.3, $suite |
| certificates | ECDSA P-256 X509-SVIDs from internal/identity/ca (leaf + intermediate, root in the bundle) | same files | same files |
| client side verifies the server | chain + the SPIFFE ID expected for the address | chain (verify required, no SNI, no host name) | no (nginx checks only with a DNS name; the SVIDs have none) |
| server side verifies the client | chain + SPIFFE ID, allow-all policy | verify required (chain) | ssl_verify_client on, depth 2 (chain) |
| session resumption | yes (client cache per destination) | yes (server-line session reuse) | yes (proxy_ssl_session_reuse, tickets) |
| capture | nat REDIRECT of all TCP, exempt by mark 0x539 and -o lo (netnstest.CaptureRules) | nat REDIRECT per destination port, exempt by owner UID $proxy_uid | same as HAProxy |
| runs as | root (for SO_MARK), egress deny, logs 1 in 100 allowed connections | UID $proxy_uid | UID $proxy_uid |

The Outrider pair runs the shipped sidecar, bin/outrider-proxy ($(du -h bin/outrider-proxy | cut -f1)), the binary the injector puts
in meshed pods. The floor ("HAProxy pair, plain TCP") is the same HAProxy processes relaying without
TLS, through their own listeners. The diagnostic ("all-in-one binary") runs the same command with the
same settings, files and rules as \`bin/outrider proxy\` ($(du -h bin/outrider | cut -f1)), which also links the control plane.
EOF
}

write_results() {
	local tables la_runs
	tables=$("$work/bin/report" --runs "$work/runs" --variants "$(
		IFS=,
		echo "${variants[*]}"
	)") || die "report failed"
	la_runs=$(cat "$work"/runs/*/loadavg-* | awk '{print $1}' | sort -g | awk 'NR==1{lo=$1} {hi=$1} END {print lo "–" hi}')
	{
		echo "# Mesh benchmark results"
		echo
		echo "Run $run_date on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), kernel $(uname -r)), shared machine."
		echo "Load average (1, 5, 15 min) at the start: $load_start; at the end: $load_end; 1-min load across the runs: $la_runs."
		echo
		echo "Load: fortio at $qps req/s over $conns keep-alive HTTP/1.1 connections for $duration (after a $warmup warm-up), GET with a $size-byte answer;"
		echo "bulk: iperf3, $bulk_streams streams for $bulk_time s (the first second omitted), client to server."
		echo "$runs repetitions, variants interleaved (the order rotates each repetition). Latency quantiles come from fortio's"
		echo "histogram at 10 µs resolution: its buckets are 10 µs wide up to 0.11 ms, 20 µs to 0.2 ms, 50 µs to 0.5 ms,"
		echo "100 µs to 1 ms and 1 ms to 5 ms, and fortio interpolates inside them; the means are exact."
		echo
		echo "Versions:"
		echo
		versions
		echo
		settings
		echo
		echo "$tables"
		if [[ -s $work/logs/outrider-client.metrics ]]; then
			echo "Outrider's counters at the end of the run (all repetitions, smoke test and warm-ups included):"
			echo
			echo '```'
			grep -h -E 'tls_handshakes_total|outbound_connections_total' "$work/logs/outrider-client.metrics" | sed 's/^/client: /'
			grep -h -E 'tls_handshakes_total' "$work/logs/outrider-server.metrics" | sed 's/^/server: /'
			echo '```'
			echo
		fi
		echo "Commands (\`<client>\`/\`<server>\`: the two namespaces; $srv_ip is the server):"
		echo
		echo '```'
		printf '%s\n' "${commands[@]}"
		echo "ip netns exec <client> $fortio load -qps $qps -c $conns -t $warmup -quiet $url   # warm-up"
		echo "ip netns exec <client> $fortio ${fortio_cmd[*]} -json fortio.json $url"
		echo "ip netns exec <client> iperf3 ${iperf_cmd[*]}"
		echo "$work/bin/procmon --out <file> <variant>-client=<pid> <variant>-server=<pid>   # during each window"
		echo '```'
		echo
		echo "Capture rules per variant: \`bench/mesh/peers.sh\` (rules_*); proxy configurations: \`bench/_out/mesh/conf/\`;"
		echo "raw results per run: \`bench/_out/mesh/runs/r<rep>-<variant>/\`."
	} >"$results"
}
