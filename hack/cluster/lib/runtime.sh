# shellcheck shell=bash
# Host prerequisites, the pod network (bridge, CNI config, firewall guard) and
# the cluster's own containerd.

DEB_PACKAGES=(etcd-server containerd runc containernetworking-plugins iptables openssl busybox-static conntrack)

ensure_packages() {
  local missing=() p
  for p in "${DEB_PACKAGES[@]}"; do
    [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == 'install ok installed' ]] || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >"${LOG_DIR}/apt.log" 2>&1 || { tail -20 "${LOG_DIR}/apt.log" >&2; die "apt-get update failed"; }
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"${LOG_DIR}/apt.log" 2>&1 \
    || { tail -20 "${LOG_DIR}/apt.log" >&2; die "apt-get install failed"; }
  # The Debian packages would start system services where an init system
  # runs them; we never use those (own config, socket and state below).
}

# check_subnet: refuse to run if the pod or service range overlaps an address
# or route of this machine that is not ours.
check_subnet() {
  local line
  while read -r line; do
    case "$line" in
      *" dev ${BRIDGE} "*|*" dev ${BRIDGE}") continue ;;
    esac
    if [[ "$line" == 10.88.* || "$line" == 10.96.* ]]; then
      die "route '${line}' overlaps the cluster's ranges (${POD_CIDR}, ${SERVICE_CIDR}); pick other ranges in hack/cluster/lib/common.sh"
    fi
  done < <(ip -4 route show table all 2>/dev/null | grep -v '^local\|^broadcast' || true)
}

# ensure_bridge: create the pod bridge with the gateway address before
# anything starts. The apiserver listens on this address (it is how pods
# reach it), so it must exist before the first pod; the CNI bridge plugin
# adopts the existing bridge.
ensure_bridge() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    log "creating bridge ${BRIDGE} ${BRIDGE_IP}/16"
    ip link add "$BRIDGE" type bridge
  fi
  # (grep on a captured string: `cmd | grep -q` fails under pipefail when
  # grep exits before cmd has written everything.)
  grep -q "inet ${BRIDGE_IP}/16" <<<"$(ip -4 addr show dev "$BRIDGE")" || ip addr add "${BRIDGE_IP}/16" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # Service traffic from a pod to another pod's endpoint is routed by the
  # host (pod -> gateway -> DNAT -> pod) and replies cross the bridge, so the
  # bridge must pass through iptables and the host must forward. The guard
  # below keeps that forwarding inside the bridge.
  set_sysctl net.ipv4.ip_forward 1
  set_sysctl net.bridge.bridge-nf-call-iptables 1
  ensure_guard
}

# set_sysctl KEY VALUE: set a sysctl, remembering the machine's value the
# first time so that `make down` can put it back.
set_sysctl() {
  local key=$1 value=$2 saved="${STATE_DIR}/sysctl.orig"
  local cur
  cur=$(sysctl -n "$key" 2>/dev/null) || { log "warning: sysctl ${key} not available"; return 0; }
  [[ "$cur" == "$value" ]] && return 0
  grep -q "^${key}=" "$saved" 2>/dev/null || echo "${key}=${cur}" >>"$saved"
  sysctl -qw "${key}=${value}"
}

restore_sysctls() {
  local saved="${STATE_DIR}/sysctl.orig" line
  [[ -f "$saved" ]] || return 0
  while IFS= read -r line; do
    [[ -n "$line" ]] && sysctl -qw "$line" || true
  done <"$saved"
  rm -f "$saved"
}

# ensure_guard: the network rule in iptables. Forwarded traffic may only go
# from the bridge to the bridge; anything from or to the pod range that would
# leave through another interface is dropped. Kept in our own chain, jumped to
# first from FORWARD.
ensure_guard() {
  iptables -w -N OUTRIDER-GUARD 2>/dev/null || iptables -w -F OUTRIDER-GUARD
  iptables -w -A OUTRIDER-GUARD -i "$BRIDGE" -o "$BRIDGE" -j RETURN
  iptables -w -A OUTRIDER-GUARD -s "$POD_CIDR" -m comment --comment "outrider: pod traffic stays on the machine" -j DROP
  iptables -w -A OUTRIDER-GUARD -d "$POD_CIDR" -m comment --comment "outrider: pod traffic stays on the machine" -j DROP
  if [[ "$(iptables -w -S FORWARD | sed -n 2p)" != "-A FORWARD -j OUTRIDER-GUARD" ]]; then
    while iptables -w -D FORWARD -j OUTRIDER-GUARD 2>/dev/null; do :; done
    iptables -w -I FORWARD 1 -j OUTRIDER-GUARD
  fi
}

remove_guard() {
  while iptables -w -D FORWARD -j OUTRIDER-GUARD 2>/dev/null; do :; done
  iptables -w -F OUTRIDER-GUARD 2>/dev/null || true
  iptables -w -X OUTRIDER-GUARD 2>/dev/null || true
}

write_cni_config() {
  mkdir -p "$CNI_CONF_DIR"
  # ipMasq false: nothing is NATed to the machine's address; hairpinMode so a
  # pod can reach itself through a Service.
  write_file "${CNI_CONF_DIR}/10-outrider.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "outrider",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "${BRIDGE}",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "${POD_CIDR}", "gateway": "${BRIDGE_IP}"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}
EOF
}

PAUSE_IMAGE="${REGISTRY_ADDR}/pause:outrider"

write_containerd_config() {
  mkdir -p "$CONTAINERD_ROOT" "$CONTAINERD_STATE" "${STATE_DIR}/bin" "${STATE_DIR}/opt"
  write_file "${STATE_DIR}/bin/runc-wrapper" 0755 <"${CLUSTER_SRC}/runc-wrapper.sh"
  local cfg="${CONF_DIR}/containerd.toml" tmp
  tmp="${CONF_DIR}/.containerd.toml.new"
  # Start from the packaged defaults and change only what we must; each
  # substitution is checked afterwards so a format change fails loudly.
  containerd config default | sed -E \
    -e "s#^root = .*#root = \"${CONTAINERD_ROOT}\"#" \
    -e "s#^state = .*#state = \"${CONTAINERD_STATE}\"#" \
    -e "s#^  address = \"/run/containerd/containerd.sock\"#  address = \"${CONTAINERD_SOCK}\"#" \
    -e "s#sandbox_image = .*#sandbox_image = \"${PAUSE_IMAGE}\"#" \
    -e "s#bin_dir = \"/opt/cni/bin\"#bin_dir = \"${CNI_BIN_DIR}\"#" \
    -e "s#conf_dir = \"/etc/cni/net.d\"#conf_dir = \"${CNI_CONF_DIR}\"#" \
    -e "s#BinaryName = \"\"#BinaryName = \"${STATE_DIR}/bin/runc-wrapper\"#" \
    -e "s#path = \"/opt/containerd\"#path = \"${STATE_DIR}/opt\"#" \
    -e "s#^( *)\[plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors\]#&\n\1  [plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"${REGISTRY_ADDR}\"]\n\1    endpoint = [\"http://${REGISTRY_ADDR}\"]#" \
    >"$tmp"
  local want
  for want in "root = \"${CONTAINERD_ROOT}\"" "address = \"${CONTAINERD_SOCK}\"" "sandbox_image = \"${PAUSE_IMAGE}\"" \
    "bin_dir = \"${CNI_BIN_DIR}\"" "conf_dir = \"${CNI_CONF_DIR}\"" "BinaryName = \"${STATE_DIR}/bin/runc-wrapper\"" \
    "SystemdCgroup = false" "endpoint = [\"http://${REGISTRY_ADDR}\"]"; do
    grep -qF "$want" "$tmp" || die "containerd config: could not set '${want}' (format of 'containerd config default' changed?)"
  done
  write_file "$cfg" <"$tmp"
  rm -f "$tmp"
}

start_containerd() {
  # A containerd killed with -9 leaves its socket behind.
  is_running containerd || rm -f "$CONTAINERD_SOCK" "${CONTAINERD_SOCK}.ttrpc"
  run_daemon containerd /usr/bin/containerd --config "${CONF_DIR}/containerd.toml"
  wait_for "containerd socket" 60 containerd ctr_ version
}

# ctr_ ARGS...: containerd's own client against our socket, in the CRI namespace.
ctr_() { ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }
