# Functions of bench/mesh/run.sh: tools, the private network and its cleanup, process start
# and stop, capture rules per variant. Sourced; uses run.sh's variables.

# shellcheck shell=bash

work_abs=$root/$work
state=$work/active # owner pid and namespaces of the run in progress
started=()         # pids this run started, in order
declare -A pid_of  # name → pid
ns_sw='' ns_cli='' ns_srv=''

# --- tools -------------------------------------------------------------------------------

# install_peers installs the Debian packages and fortio when missing.
install_peers() {
	local debs=()
	command -v haproxy >/dev/null || debs+=(haproxy)
	command -v nginx >/dev/null || debs+=(nginx)
	[[ -e /usr/lib/nginx/modules/ngx_stream_module.so ]] || debs+=(libnginx-mod-stream)
	command -v iperf3 >/dev/null || debs+=(iperf3)
	if ((${#debs[@]})); then
		log "apt-get install -y ${debs[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${debs[@]}" >/dev/null || die "apt-get install ${debs[*]} failed"
	fi
	local stamp=$tools_bin/.fortio.version
	if [[ ! -x $fortio || ! -f $stamp || $(<"$stamp") != "$fortio_version" ]]; then
		log "go install fortio.org/fortio@$fortio_version"
		mkdir -p "$tools_bin"
		local tmp
		tmp=$(mktemp -d)
		# Outside the repository, so no go.mod or go.work is consulted.
		(cd "$tmp" && GOBIN="$root/$tools_bin" GOTOOLCHAIN=local GOWORK=off GOFLAGS=-mod=mod \
			go install "fortio.org/fortio@$fortio_version") || die "fortio does not install"
		rm -rf "$tmp"
		echo "$fortio_version" >"$stamp"
	fi
}

# --- network -----------------------------------------------------------------------------

# alive reports whether pid runs (a zombie does not).
alive() {
	[[ -e /proc/$1/stat ]] || return 1
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[[ -n $st && $st != Z ]]
}

# remove_netns kills what still runs inside one of our namespaces (only this benchmark puts
# processes there) and deletes it.
remove_netns() {
	local ns=$1 p
	[[ -n $ns && -e /run/netns/$ns ]] || return 0
	for p in $(ip netns pids "$ns" 2>/dev/null); do
		kill -KILL "$p" 2>/dev/null || true
	done
	ip netns del "$ns" 2>/dev/null || log "WARNING: could not delete namespace $ns (ip netns del $ns)"
}

# clean_stale removes what a killed earlier run left, and refuses to run beside a live one.
clean_stale() {
	[[ -f $state ]] || return 0
	local owner ns
	owner=$(awk '$1 == "owner" {print $2}' "$state")
	if [[ -n $owner ]] && alive "$owner" && tr '\0' ' ' <"/proc/$owner/cmdline" | grep -q 'bench/mesh/run.sh'; then
		die "another bench-mesh run (pid $owner) is active"
	fi
	for ns in $(awk '$1 == "netns" {print $2}' "$state"); do
		log "removing namespace $ns left by an earlier run"
		remove_netns "$ns"
	done
	rm -f "$state"
}

cleanup() {
	local rc=$? i p k
	trap - EXIT INT TERM
	for ((i = ${#started[@]} - 1; i >= 0; i--)); do
		kill -TERM "${started[i]}" 2>/dev/null || true
	done
	for p in "${started[@]}"; do
		for ((k = 0; k < 50; k++)); do
			alive "$p" || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	for ns in "$ns_cli" "$ns_srv" "$ns_sw"; do
		remove_netns "$ns"
	done
	rm -f "$state"
	exit "$rc"
}

# make_network builds the bridge namespace and the two pods, and arms the cleanup.
make_network() {
	local id octet
	id=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
	octet=$((1 + 0x${id:0:2} % 250))
	ns_sw=orbench-$id-sw ns_cli=orbench-$id-cli ns_srv=orbench-$id-srv
	bridge=orbench0 # inside ns_sw, so the name cannot clash with the host's
	cli_ip=10.203.$octet.2 srv_ip=10.203.$octet.3
	mkdir -p "$work"
	printf 'owner %s\nnetns %s\nnetns %s\nnetns %s\n' "$$" "$ns_sw" "$ns_cli" "$ns_srv" >"$state"
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	ip netns add "$ns_sw"
	ip -n "$ns_sw" link set lo up
	ip -n "$ns_sw" link add "$bridge" type bridge
	ip -n "$ns_sw" link set "$bridge" up
	local ns ip port
	for pod in cli:"$cli_ip" srv:"$srv_ip"; do
		port=${pod%%:*}0 ip=${pod#*:} ns=orbench-$id-${pod%%:*}
		ip netns add "$ns"
		ip -n "$ns" link set lo up
		ip -n "$ns_sw" link add "$port" type veth peer name eth0 netns "$ns"
		ip -n "$ns_sw" link set "$port" master "$bridge" up
		ip -n "$ns" addr add "$ip/24" dev eth0
		ip -n "$ns" link set eth0 up
	done
}

# --- processes ---------------------------------------------------------------------------

# start NAME NS CMD... runs CMD in namespace NS in the background (ip netns exec execs it, so
# the pid is the command's), logging to logs/NAME.log.
start() {
	local name=$1 ns=$2
	shift 2
	ip netns exec "$ns" "$@" >"$work/logs/$name.log" 2>&1 &
	pid_of[$name]=$!
	started+=("$!")
	commands+=("ip netns exec <$([[ $ns == "$ns_cli" ]] && echo client || echo server)> $*")
}

# wait_listen NS PORT NAME waits until something listens on PORT in NS.
wait_listen() {
	local ns=$1 port=$2 name=$3 k
	for ((k = 0; k < 200; k++)); do
		ip netns exec "$ns" ss -Hltn "sport = :$port" | grep -q . && return 0
		alive "${pid_of[$name]}" || die "$name exited; see $work/logs/$name.log: $(tail -n 5 "$work/logs/$name.log")"
		sleep 0.1
	done
	die "$name does not listen on port $port after 20 s; see $work/logs/$name.log"
}

# forget PID drops a reaped process from the cleanup list (its pid may be reused).
forget() {
	local keep=() p
	for p in "${started[@]}"; do
		[[ $p == "$1" ]] || keep+=("$p")
	done
	started=("${keep[@]}")
}

# run_wait CMD... runs CMD in the background and waits for it: bash runs a trap only between
# foreground commands, so this keeps the benchmark responsive to Ctrl-C and SIGTERM (the
# cleanup stops CMD).
run_wait() {
	local p rc=0
	"$@" &
	p=$!
	started+=("$p")
	wait "$p" || rc=$?
	forget "$p"
	return "$rc"
}

# stop_pid PID stops a helper this run started (a procmon, perf) and reaps it.
stop_pid() {
	kill "-${2:-TERM}" "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	forget "$1"
}
