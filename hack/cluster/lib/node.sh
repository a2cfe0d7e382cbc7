# shellcheck shell=bash
# The node: /etc/hosts entry, kubelet and kube-proxy.

# ensure_hosts_entry: the kubelet listens on 127.0.0.1 only, but refuses a
# loopback node IP; the node's InternalIP is the bridge gateway (--node-ip,
# otherwise the kubelet would pick the machine's eth0 address). The apiserver
# dials the kubelet by name (--kubelet-preferred-address-types Hostname), and
# the name must resolve to 127.0.0.1.
ensure_hosts_entry() {
  if ! grep -Eq "^127\.0\.0\.1[[:space:]]+(.*[[:space:]])?${NODE_NAME}([[:space:]]|$)" /etc/hosts; then
    log "adding '127.0.0.1 ${NODE_NAME}' to /etc/hosts"
    printf '127.0.0.1 %s  # outrider local cluster\n' "$NODE_NAME" >>/etc/hosts
  fi
}

write_kubelet_config() {
  mkdir -p "$KUBELET_ROOT"
  # Pods get a resolver that points at their own loopback: there is no
  # cluster DNS, and the host's resolver is off the machine.
  echo "nameserver 127.0.0.1" | write_file "${CONF_DIR}/pod-resolv.conf"
  write_file "${CONF_DIR}/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: ${PKI_DIR}/ca.crt
authorization:
  mode: Webhook
tlsCertFile: ${PKI_DIR}/kubelet-serving.crt
tlsPrivateKeyFile: ${PKI_DIR}/kubelet-serving.key
containerRuntimeEndpoint: unix://${CONTAINERD_SOCK}
cgroupDriver: cgroupfs
failSwapOn: false
# No CAP_SYS_RESOURCE on this VM: keep the kubelet's own oom_score_adj.
oomScoreAdj: 0
enforceNodeAllocatable: []
evictionHard: {}
localStorageCapacityIsolation: false
resolvConf: ${CONF_DIR}/pod-resolv.conf
clusterDomain: cluster.local
serializeImagePulls: false
EOF
}

start_kubelet() {
  run_daemon kubelet "${K8S_BIN}/kubelet" \
    --config "${CONF_DIR}/kubelet.yaml" \
    --kubeconfig "${CONF_DIR}/kubelet.kubeconfig" \
    --root-dir "$KUBELET_ROOT" \
    --hostname-override "$NODE_NAME" \
    --node-ip "$BRIDGE_IP" \
    --v=1
  wait_for "kubelet /healthz" 60 kubelet curl -fsS http://127.0.0.1:10248/healthz
}

write_kube_proxy_config() {
  write_file "${CONF_DIR}/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection:
  kubeconfig: ${CONF_DIR}/kube-proxy.kubeconfig
hostnameOverride: ${NODE_NAME}
clusterCIDR: ${POD_CIDR}
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# NodePorts only on the bridge address, never on the machine's own interface.
nodePortAddresses: ["${BRIDGE_IP}/32"]
iptables:
  # true would set route_localnet and expose NodePorts on 127.0.0.1.
  localhostNodePorts: false
# No CAP_SYS_RESOURCE on this VM, and leave the conntrack table size alone.
oomScoreAdj: 0
conntrack:
  maxPerCore: 0
EOF
}

start_kube_proxy() {
  run_daemon kube-proxy "${K8S_BIN}/kube-proxy" --config "${CONF_DIR}/kube-proxy.yaml" --v=1
  wait_for "kube-proxy /healthz" 60 kube-proxy curl -fsS http://127.0.0.1:10256/healthz
}

# wait_node_ready: the node registered and Ready.
wait_node_ready() {
  wait_for "node ${NODE_NAME} Ready" 120 kubelet \
    kc wait --for=condition=Ready "node/${NODE_NAME}" --timeout=5s
}
