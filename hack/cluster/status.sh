#!/usr/bin/env bash
# status.sh: what of the local cluster runs (`make cluster-status`). Read-only.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=/dev/null
source "${HERE}/lib/common.sh"

components() {
  local c pid
  printf '%-24s %-8s %s\n' COMPONENT PID LOG
  for c in "${COMPONENTS[@]}"; do
    if pid=$(pid_of "$c"); then
      printf '%-24s %-8s %s\n' "$c" "$pid" "${LOG_DIR}/${c}.log"
    elif [[ -f "$(pidfile "$c")" ]]; then
      printf '%-24s %-8s %s\n' "$c" "stale" "pid file $(pidfile "$c") names no live ${c}"
    else
      printf '%-24s %-8s\n' "$c" "-"
    fi
  done
}

main() {
  echo "Outrider local cluster (Kubernetes ${K8S_VERSION})"
  echo
  components
  echo
  if ip link show "$BRIDGE" >/dev/null 2>&1; then
    echo "bridge ${BRIDGE}: $(ip -4 -o addr show dev "$BRIDGE" | awk '{print $4}')   pods ${POD_CIDR}   services ${SERVICE_CIDR}"
  else
    echo "bridge ${BRIDGE}: absent"
  fi
  echo "kubeconfig: ${ADMIN_KUBECONFIG}   kubectl: ${USER_DIR}/bin/kubectl"
  if is_running kube-apiserver && [[ -f "$ADMIN_KUBECONFIG" ]]; then
    echo
    kc get nodes -o wide 2>&1
    echo
    kc get pods -A -o wide 2>&1
  fi
  if is_running containerd && [[ -x "${TOOLS_BIN}/cri" ]]; then
    echo
    echo "pod sandboxes in containerd (${CONTAINERD_SOCK}):"
    "${TOOLS_BIN}/cri" --socket "$CONTAINERD_SOCK" --timeout 10s ps 2>&1
  fi
}

main "$@"
