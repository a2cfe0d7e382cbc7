# shellcheck shell=bash
# etcd, kube-apiserver, kube-controller-manager and kube-scheduler.

start_etcd() {
  mkdir -p "${STATE_DIR}/etcd"
  chmod 700 "${STATE_DIR}/etcd"
  # Loopback only; plain http is acceptable because nothing but the apiserver
  # on this machine can reach 127.0.0.1:2379.
  run_daemon etcd /usr/bin/etcd \
    --name outrider \
    --data-dir "${STATE_DIR}/etcd" \
    --listen-client-urls "$ETCD_CLIENT" \
    --advertise-client-urls "$ETCD_CLIENT" \
    --listen-peer-urls http://127.0.0.1:2380 \
    --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster outrider=http://127.0.0.1:2380 \
    --listen-metrics-urls http://127.0.0.1:2381
  wait_for "etcd health" 60 etcd curl -fsS "${ETCD_CLIENT}/health"
}

start_apiserver() {
  local p=$PKI_DIR
  # Listens (and advertises) on the bridge gateway only: reachable from this
  # machine and from the pods, from nowhere else. kube-proxy DNATs the
  # kubernetes Service 10.96.0.1:443 to this address.
  run_daemon kube-apiserver "${K8S_BIN}/kube-apiserver" \
    --advertise-address "$BRIDGE_IP" \
    --bind-address "$BRIDGE_IP" \
    --secure-port "$APISERVER_PORT" \
    --etcd-servers "$ETCD_CLIENT" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --allow-privileged=true \
    --authorization-mode Node,RBAC \
    --enable-admission-plugins NodeRestriction \
    --client-ca-file "${p}/ca.crt" \
    --tls-cert-file "${p}/apiserver.crt" \
    --tls-private-key-file "${p}/apiserver.key" \
    --kubelet-client-certificate "${p}/apiserver-kubelet-client.crt" \
    --kubelet-client-key "${p}/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "${p}/ca.crt" \
    --kubelet-preferred-address-types Hostname \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "${p}/sa.pub" \
    --service-account-signing-key-file "${p}/sa.key" \
    --enable-aggregator-routing=true \
    --requestheader-client-ca-file "${p}/front-proxy-ca.crt" \
    --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User \
    --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --proxy-client-cert-file "${p}/front-proxy-client.crt" \
    --proxy-client-key-file "${p}/front-proxy-client.key" \
    --profiling=false \
    --v=1
  wait_for "kube-apiserver /readyz" 120 kube-apiserver kc get --raw /readyz
}

start_controller_manager() {
  local k="${CONF_DIR}/controller-manager.kubeconfig"
  # nodeipam off: the CNI's host-local IPAM owns the pod range, not the node's
  # podCIDR. The cluster CA also signs CSRs (kubernetes.io/* signers).
  run_daemon kube-controller-manager "${K8S_BIN}/kube-controller-manager" \
    --kubeconfig "$k" \
    --authentication-kubeconfig "$k" \
    --authorization-kubeconfig "$k" \
    --bind-address 127.0.0.1 \
    --leader-elect=false \
    --controllers '*,-nodeipam' \
    --use-service-account-credentials=true \
    --service-account-private-key-file "${PKI_DIR}/sa.key" \
    --root-ca-file "${PKI_DIR}/ca.crt" \
    --cluster-signing-cert-file "${PKI_DIR}/ca.crt" \
    --cluster-signing-key-file "${PKI_DIR}/ca.key" \
    --requestheader-client-ca-file "${PKI_DIR}/front-proxy-ca.crt" \
    --profiling=false \
    --v=1
  wait_for "kube-controller-manager /healthz" 60 kube-controller-manager \
    curl -fsSk https://127.0.0.1:10257/healthz
}

start_scheduler() {
  local k="${CONF_DIR}/scheduler.kubeconfig"
  run_daemon kube-scheduler "${K8S_BIN}/kube-scheduler" \
    --kubeconfig "$k" \
    --authentication-kubeconfig "$k" \
    --authorization-kubeconfig "$k" \
    --bind-address 127.0.0.1 \
    --leader-elect=false \
    --profiling=false \
    --v=1
  wait_for "kube-scheduler /healthz" 60 kube-scheduler curl -fsSk https://127.0.0.1:10259/healthz
}
