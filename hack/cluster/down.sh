#!/usr/bin/env bash
# down.sh: stop the local cluster (`make down`). Stops only the processes
# `make up` started (pid files, checked against /proc/PID/exe), tears down the
# pods through the runtime, and removes what the cluster put on the machine:
# mounts, network namespaces, the bridge, iptables chains, sysctls.
# Keeps etcd data, certificates, registry data and built binaries unless
# PURGE=1, which wipes the state directories (never the build cache).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for f in common runtime; do
  # shellcheck source=/dev/null
  source "${HERE}/lib/${f}.sh"
done

PURGE=${PURGE:-0}

# remove_pods: stop and remove every pod sandbox so containerd runs CNI DEL and
# releases network namespaces and mounts. A containerd that is gone (killed)
# is started once more for this, from the config `up` wrote.
remove_pods() {
  [[ -f "${CONF_DIR}/containerd.toml" && -x "${TOOLS_BIN}/cri" ]] || return 0
  if ! is_running containerd; then
    [[ -d "$CONTAINERD_ROOT" ]] || return 0
    start_containerd || { log "warning: could not start containerd to remove pods"; return 0; }
  fi
  log "removing pod sandboxes"
  "${TOOLS_BIN}/cri" --socket "$CONTAINERD_SOCK" rm-all >>"${LOG_DIR}/down.log" 2>&1 \
    || log "warning: some sandboxes were not removed (see ${LOG_DIR}/down.log)"
}

# cleanup_kube_proxy_rules: kube-proxy's own cleanup mode removes the chains
# and rules it created (iptables, ipvs and nftables).
cleanup_kube_proxy_rules() {
  [[ -x "${K8S_BIN}/kube-proxy" ]] || return 0
  log "removing kube-proxy's iptables rules"
  "${K8S_BIN}/kube-proxy" --cleanup >>"${LOG_DIR}/down.log" 2>&1 || true
}

# cleanup_kubelet_rules: the chains the kubelet creates itself (kube-proxy's
# cleanup leaves them): KUBE-FIREWALL (jumped to from INPUT and OUTPUT),
# KUBE-KUBELET-CANARY and KUBE-IPTABLES-HINT, for IPv4 and IPv6.
cleanup_kubelet_rules() {
  local ipt table chain
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    for chain in INPUT OUTPUT; do
      while "$ipt" -w -D "$chain" -j KUBE-FIREWALL 2>/dev/null; do :; done
    done
    for table in filter nat mangle; do
      for chain in KUBE-FIREWALL KUBE-KUBELET-CANARY KUBE-IPTABLES-HINT; do
        "$ipt" -w -t "$table" -F "$chain" 2>/dev/null && "$ipt" -w -t "$table" -X "$chain" 2>/dev/null || true
      done
    done
  done
}

# cleanup_cni_rules: the portmap plugin's top-level chains, once no pod of
# ours needs them (per-pod chains went with CNI DEL).
cleanup_cni_rules() {
  local c
  local rules
  rules=$(iptables -w -t nat -S 2>/dev/null || true)
  grep -q -- '-N CNI-DN-' <<<"$rules" && return 0
  for c in CNI-HOSTPORT-DNAT CNI-HOSTPORT-SNAT CNI-HOSTPORT-MASQ CNI-HOSTPORT-SETMARK; do
    grep -q -- "-N ${c}\$" <<<"$rules" || continue
    iptables -w -t nat -S | grep -- "-j ${c}\$" | sed 's/^-A/-D/' | while read -r rule; do
      # shellcheck disable=SC2086
      iptables -w -t nat $rule || true
    done
    iptables -w -t nat -F "$c" || true
    iptables -w -t nat -X "$c" || true
  done
}

# unmount_ours: anything still mounted under our state directories (pod
# volumes, container rootfs, sandbox shm), deepest first.
unmount_ours() {
  local m mounts
  mounts=$(awk '{print $2}' /proc/mounts | { grep -E "^(${STATE_DIR}|${RUN_DIR})/" || true; } | sort -r)
  for m in $mounts; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "warning: could not unmount ${m}"
  done
}

# delete_netns: network namespaces left by pods whose runtime is gone. Ours
# are recognised by an address in the pod range, which only our CNI hands out.
delete_netns() {
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    if grep -q " inet ${POD_CIDR%.*.*}\." <<<"$(ip netns exec "$ns" ip -4 -o addr show 2>/dev/null)"; then
      log "deleting network namespace ${ns}"
      ip netns delete "$ns" || true
    fi
  done
}

delete_bridge() {
  ip link show "$BRIDGE" >/dev/null 2>&1 || return 0
  log "deleting bridge ${BRIDGE}"
  ip link delete "$BRIDGE" type bridge || true
}

# cleanup_cni_state: IPAM leases and libcni's result cache of our network;
# the pods they belonged to are gone.
cleanup_cni_state() {
  rm -rf "$CNI_STATE_DIR"
  rm -f /var/lib/cni/results/outrider-*
}

remove_hosts_entry() {
  sed -i "/^127\.0\.0\.1 ${NODE_NAME}  # outrider local cluster\$/d" /etc/hosts
}

main() {
  need_root
  mkdir -p "$LOG_DIR"
  # The kubelet first, so it does not restart the pods we remove.
  stop_daemon kubelet
  remove_pods
  stop_daemon kube-proxy
  cleanup_kube_proxy_rules
  local c
  for c in kube-scheduler kube-controller-manager kube-apiserver etcd containerd registry; do
    stop_daemon "$c"
  done
  unmount_ours
  delete_netns
  cleanup_kubelet_rules
  cleanup_cni_rules
  cleanup_cni_state
  delete_bridge
  remove_guard
  restore_sysctls
  rm -f "${CONTAINERD_SOCK}" "${CONTAINERD_SOCK}.ttrpc"

  if [[ "$PURGE" == 1 ]]; then
    log "PURGE=1: wiping ${STATE_DIR}, ${RUN_DIR} and ${ADMIN_KUBECONFIG} (keeping the build cache ${CACHE_DIR})"
    unmount_ours
    rm -rf "$STATE_DIR" "$RUN_DIR" "$ADMIN_KUBECONFIG"
    remove_hosts_entry
  fi
  log "cluster down"
}

main "$@"
