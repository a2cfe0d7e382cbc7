#!/usr/bin/env bash
# up.sh: bring the local single-node cluster up (`make up`). Idempotent: what
# runs with the same configuration is reused, what was left behind by a
# cluster whose processes are gone is recovered, cached builds are reused.
# See docs/local-cluster.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for f in common build pki runtime control-plane node images smoke; do
  # shellcheck source=/dev/null
  source "${HERE}/lib/${f}.sh"
done

link_kubectl() {
  mkdir -p "${USER_DIR}/bin"
  ln -sfn "${K8S_BIN}/kubectl" "${USER_DIR}/bin/kubectl"
}

print_usage() {
  cat <<EOF

Local cluster is up (Kubernetes ${K8S_VERSION}, node ${NODE_NAME}).

  export KUBECONFIG=${ADMIN_KUBECONFIG}
  export PATH=${USER_DIR}/bin:\$PATH      # kubectl ${K8S_VERSION} (not /usr/bin/kubectl)
  kubectl get nodes

  images:  hack/cluster/image.sh NAME BINARY...  ->  ${REGISTRY_ADDR}/NAME:dev
  status:  make cluster-status      logs: ${LOG_DIR}/      stop: make down [PURGE=1]
EOF
}

main() {
  need_root
  local started=$SECONDS
  mkdir -p "$STATE_DIR" "$RUN_DIR" "$LOG_DIR" "$CONF_DIR"

  ensure_packages
  build_k8s
  build_tools
  link_kubectl

  check_subnet
  ensure_bridge
  ensure_hosts_entry
  ensure_pki
  ensure_kubeconfigs

  start_registry
  ensure_base_images

  start_etcd
  start_apiserver
  start_controller_manager
  start_scheduler

  write_cni_config
  write_containerd_config
  start_containerd

  write_kubelet_config
  start_kubelet
  wait_node_ready
  write_kube_proxy_config
  start_kube_proxy
  ensure_guard # kube-proxy inserts its own FORWARD rules; keep ours first

  ensure_outrider_image
  run_smoke

  local hook="${HERE}/install-outrider.sh"
  if [[ -x "$hook" ]]; then
    log "running ${hook}"
    KUBECONFIG="$ADMIN_KUBECONFIG" PATH="${USER_DIR}/bin:${PATH}" "$hook"
  fi

  log "cluster up in $((SECONDS - started))s"
  print_usage
}

main "$@"
