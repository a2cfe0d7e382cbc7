# The proxies of bench/mesh/run.sh: their configurations, how each starts, and the capture
# rules of each variant. Sourced; uses run.sh's variables.

# shellcheck shell=bash

# Listener ports. Outrider: its defaults (docs/mesh.md). HAProxy and nginx cannot recover the
# original destination, so each has one listener per destination port.
outrider_out=15001 outrider_in=15006 outrider_metrics_port=15090
allinone_out=15011 allinone_in=15016 allinone_metrics_port=15091
haproxy_out_http=15101 haproxy_out_bulk=15102 haproxy_in_http=15106 haproxy_in_bulk=15107
plain_out_http=15111 plain_out_bulk=15112 plain_in_http=15116 plain_in_bulk=15117
nginx_out_http=15201 nginx_out_bulk=15202 nginx_in_http=15206 nginx_in_bulk=15207

# One TLS 1.3 suite for everyone: Go's crypto/tls picks AES-128-GCM on CPUs with AES-NI and
# cannot be told otherwise in TLS 1.3, so the C proxies are configured to the same suite.
suite=TLS_AES_128_GCM_SHA256

write_peer_configs() {
	local c=$work_abs/certs d=$work_abs/conf
	mkdir -p "$d/nginx-client" "$d/nginx-server" "$work/logs/peers"
	chown "$proxy_uid:$proxy_uid" "$d/nginx-client" "$d/nginx-server" "$work/logs/peers"

	cat >"$d/haproxy-client.cfg" <<EOF
# Client side: plain TCP from the app (redirected), TLS 1.3 with a client certificate to the
# server side. No SNI is sent, so HAProxy verifies the chain against the bundle and does not
# check a host name (the SVIDs carry only a SPIFFE URI).
global
    nbthread $threads
    maxconn 4096
    ssl-default-server-options ssl-min-ver TLSv1.3
    ssl-default-server-ciphersuites $suite
defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h
frontend out_http
    bind 127.0.0.1:$haproxy_out_http
    default_backend mesh_http
backend mesh_http
    server server $srv_ip:$app_port ssl crt $c/client.pem ca-file $c/bundle.pem verify required
frontend out_bulk
    bind 127.0.0.1:$haproxy_out_bulk
    default_backend mesh_bulk
backend mesh_bulk
    server server $srv_ip:$bulk_port ssl crt $c/client.pem ca-file $c/bundle.pem verify required
# The floor (variant "plain"): the same two hops in plain TCP, no TLS.
listen plain_http
    bind 127.0.0.1:$plain_out_http
    server server $srv_ip:$app_port
listen plain_bulk
    bind 127.0.0.1:$plain_out_bulk
    server server $srv_ip:$bulk_port
EOF

	cat >"$d/haproxy-server.cfg" <<EOF
# Server side: terminates TLS 1.3, requires a client certificate that chains to the bundle,
# forwards to the app on 127.0.0.1.
global
    nbthread $threads
    maxconn 4096
    ssl-default-bind-options ssl-min-ver TLSv1.3
    ssl-default-bind-ciphersuites $suite
defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h
frontend in_http
    bind :$haproxy_in_http ssl crt $c/server.pem ca-file $c/bundle.pem verify required
    default_backend app_http
backend app_http
    server app 127.0.0.1:$app_port
frontend in_bulk
    bind :$haproxy_in_bulk ssl crt $c/server.pem ca-file $c/bundle.pem verify required
    default_backend app_bulk
backend app_bulk
    server app 127.0.0.1:$bulk_port
# The floor (variant "plain"): plain TCP in, plain TCP out.
listen plain_http
    bind :$plain_in_http
    server app 127.0.0.1:$app_port
listen plain_bulk
    bind :$plain_in_bulk
    server app 127.0.0.1:$bulk_port
EOF

	cat >"$d/nginx-client.conf" <<EOF
# Client side. proxy_ssl_verify is off: nginx verifies a peer only together with a host name
# (proxy_ssl_name), and the SVIDs carry a SPIFFE URI and no DNS name, so nginx cannot check
# the server here. The server side still requires and verifies the client certificate.
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes $threads;
daemon off;
pid $work_abs/logs/peers/nginx-client.pid;
error_log $work_abs/logs/peers/nginx-client.error.log warn;
events { worker_connections 4096; }
stream {
    proxy_ssl on;
    proxy_ssl_protocols TLSv1.3;
    proxy_ssl_conf_command Ciphersuites $suite;
    proxy_ssl_certificate $c/client.crt;
    proxy_ssl_certificate_key $c/client.key;
    proxy_ssl_trusted_certificate $c/bundle.pem;
    proxy_ssl_verify off;
    proxy_ssl_session_reuse on;
    proxy_timeout 1h;
    server { listen 127.0.0.1:$nginx_out_http; proxy_pass $srv_ip:$app_port; }
    server { listen 127.0.0.1:$nginx_out_bulk; proxy_pass $srv_ip:$bulk_port; }
}
EOF

	cat >"$d/nginx-server.conf" <<EOF
# Server side: terminates TLS 1.3, requires a client certificate that chains to the bundle
# (depth 2: leaf, intermediate, root), forwards to the app on 127.0.0.1.
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes $threads;
daemon off;
pid $work_abs/logs/peers/nginx-server.pid;
error_log $work_abs/logs/peers/nginx-server.error.log warn;
events { worker_connections 4096; }
stream {
    ssl_protocols TLSv1.3;
    ssl_conf_command Ciphersuites $suite;
    ssl_certificate $c/server.crt;
    ssl_certificate_key $c/server.key;
    ssl_client_certificate $c/bundle.pem;
    ssl_verify_client on;
    ssl_verify_depth 2;
    proxy_timeout 1h;
    server { listen $nginx_in_http ssl; proxy_pass 127.0.0.1:$app_port; }
    server { listen $nginx_in_bulk ssl; proxy_pass 127.0.0.1:$bulk_port; }
}
EOF
}

# start_mesh_proxy VARIANT IN OUT METRICS BINARY [ARGS...] starts one Outrider data plane on each
# side, fed from the certs directory, and waits until both report ready on their admin socket.
start_mesh_proxy() {
	local v=$1 in=$2 out=$3 metrics=$4 side ns k c=$work_abs/certs
	shift 4
	for side in client server; do
		ns=$ns_cli
		[[ $side == server ]] && ns=$ns_srv
		start "$v-$side" "$ns" "$@" \
			--cert "$c/$side.crt" --key "$c/$side.key" --bundle "$c/bundle.pem" \
			--policy-file "$c/policy.json" --endpoints-file "$c/endpoints.json" --egress deny \
			--inbound-port "$in" --outbound-port "$out" \
			--admin-socket "$work_abs/logs/$v-$side.sock" --metrics-addr "127.0.0.1:$metrics"
	done
	wait_listen "$ns_cli" "$out" "$v-client"
	wait_listen "$ns_srv" "$in" "$v-server"
	for side in client server; do
		for ((k = 0; k < 100; k++)); do
			curl -fsS --unix-socket "$work/logs/$v-$side.sock" http://admin/readyz >/dev/null 2>&1 && break
			((k < 99)) || die "$v-$side is not ready; see $work/logs/$v-$side.log"
			sleep 0.1
		done
	done
}

# The shipped sidecar: the binary the injector runs in meshed pods (cmd/outrider-proxy).
start_outrider() {
	start_mesh_proxy outrider "$outrider_in" "$outrider_out" "$outrider_metrics_port" "$root/bin/outrider-proxy"
}

# The diagnostic: the same command from the all-in-one binary, `outrider proxy`.
start_allinone() {
	start_mesh_proxy allinone "$allinone_in" "$allinone_out" "$allinone_metrics_port" "$root/bin/outrider" proxy
}

start_haproxy() {
	local side ns
	[[ -z ${pid_of[haproxy-client]:-} ]] || return 0 # "plain" runs in the same processes
	for side in client server; do
		ns=$ns_cli
		[[ $side == server ]] && ns=$ns_srv
		ip netns exec "$ns" setpriv --reuid="$proxy_uid" --regid="$proxy_uid" --clear-groups \
			haproxy -c -q -f "$work_abs/conf/haproxy-$side.cfg" || die "haproxy-$side.cfg does not check"
		start "haproxy-$side" "$ns" setpriv --reuid="$proxy_uid" --regid="$proxy_uid" --clear-groups \
			haproxy -db -f "$work_abs/conf/haproxy-$side.cfg"
	done
	wait_listen "$ns_cli" "$haproxy_out_http" haproxy-client
	wait_listen "$ns_srv" "$haproxy_in_http" haproxy-server
	pid_of[plain-client]=${pid_of[haproxy-client]} pid_of[plain-server]=${pid_of[haproxy-server]}
}

# The floor: HAProxy's plain-TCP listeners (see the configurations).
start_plain() { start_haproxy; }

start_nginx() {
	local side ns
	for side in client server; do
		ns=$ns_cli
		[[ $side == server ]] && ns=$ns_srv
		local args=(-p "$work_abs/conf/nginx-$side" -e "$work_abs/logs/peers/nginx-$side.error.log" -c "$work_abs/conf/nginx-$side.conf")
		ip netns exec "$ns" setpriv --reuid="$proxy_uid" --regid="$proxy_uid" --clear-groups \
			nginx -q -t "${args[@]}" || die "nginx-$side.conf does not check"
		start "nginx-$side" "$ns" setpriv --reuid="$proxy_uid" --regid="$proxy_uid" --clear-groups nginx "${args[@]}"
	done
	wait_listen "$ns_cli" "$nginx_out_http" nginx-client
	wait_listen "$ns_srv" "$nginx_in_http" nginx-server
}

# rules_VARIANT print the nat table of both pods for that variant (iptables-restore replaces
# the whole table, user chains included).
rules_direct() {
	printf '*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n'
}

# mesh_rules IN OUT: the capture rules of internal/mesh/netnstest (CaptureRules): every inbound
# TCP connection to the inbound port, every outbound one to the outbound port, except the
# proxy's own (mark 0x539) and loopback.
mesh_rules() {
	cat <<EOF
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:ORBENCH_INBOUND - [0:0]
:ORBENCH_OUTBOUND - [0:0]
-A PREROUTING -p tcp -j ORBENCH_INBOUND
-A ORBENCH_INBOUND -p tcp -j REDIRECT --to-ports $1
-A OUTPUT -p tcp -j ORBENCH_OUTBOUND
-A ORBENCH_OUTBOUND -m mark --mark 0x539 -j RETURN
-A ORBENCH_OUTBOUND -o lo -j RETURN
-A ORBENCH_OUTBOUND -p tcp -j REDIRECT --to-ports $2
COMMIT
EOF
}
rules_outrider() { mesh_rules "$outrider_in" "$outrider_out"; }
rules_allinone() { mesh_rules "$allinone_in" "$allinone_out"; }

# c_rules OUT_HTTP OUT_BULK IN_HTTP IN_BULK: the same shape for a proxy that cannot read the
# original destination: one redirect per destination port, the proxy exempt by its UID.
c_rules() {
	cat <<EOF
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:ORBENCH_INBOUND - [0:0]
:ORBENCH_OUTBOUND - [0:0]
-A PREROUTING -p tcp -j ORBENCH_INBOUND
-A ORBENCH_INBOUND -p tcp --dport $app_port -j REDIRECT --to-ports $3
-A ORBENCH_INBOUND -p tcp --dport $bulk_port -j REDIRECT --to-ports $4
-A OUTPUT -p tcp -j ORBENCH_OUTBOUND
-A ORBENCH_OUTBOUND -m owner --uid-owner $proxy_uid -j RETURN
-A ORBENCH_OUTBOUND -o lo -j RETURN
-A ORBENCH_OUTBOUND -p tcp --dport $app_port -j REDIRECT --to-ports $1
-A ORBENCH_OUTBOUND -p tcp --dport $bulk_port -j REDIRECT --to-ports $2
COMMIT
EOF
}
rules_haproxy() { c_rules "$haproxy_out_http" "$haproxy_out_bulk" "$haproxy_in_http" "$haproxy_in_bulk"; }
rules_nginx() { c_rules "$nginx_out_http" "$nginx_out_bulk" "$nginx_in_http" "$nginx_in_bulk"; }
rules_plain() { c_rules "$plain_out_http" "$plain_out_bulk" "$plain_in_http" "$plain_in_bulk"; }

# use_rules VARIANT installs the variant's rules in both pods and forgets earlier NAT
# decisions (conntrack), so no connection of another variant's path is reused.
use_rules() {
	local ns
	for ns in "$ns_cli" "$ns_srv"; do
		"rules_$1" | ip netns exec "$ns" iptables-restore || die "iptables-restore in $ns for $1"
		ip netns exec "$ns" conntrack -F >/dev/null 2>&1 || true
	done
}
