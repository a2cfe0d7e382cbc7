#!/usr/bin/env bash
# install-outrider.sh: the last step of `make up`. Builds Outrider's image from bin/outrider
# (the entrypoint) and bin/outrider-proxy (the mesh sidecar the injector runs), pushes it to the
# local registry, installs the Helm chart with `outrider install`, and shows the gate working: a
# compliant Deployment runs, a privileged one is refused.
#
# The image tag is derived from both binaries' hashes and the iptables files' (the image carries
# the iptables commands `outrider capture` runs), so a rebuilt binary rolls the controller and
# unchanged ones leave it alone (a second `make up` changes nothing).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/iptables-files.sh"

NAMESPACE=outrider-system
OUTRIDER="${REPO_ROOT}/bin/outrider"
OUTRIDER_PROXY="${REPO_ROOT}/bin/outrider-proxy"

build_and_push() {
  log "building bin/outrider and bin/outrider-proxy (static)"
  make -s -C "$REPO_ROOT" build >/dev/null
  # The image also carries the iptables commands for `outrider capture` (image.sh
  # WITH_IPTABLES=1): the tag covers their paths and contents too, so an iptables
  # package upgrade rolls the controller like a new binary does.
  local sum ipt
  ipt=$(iptables_fingerprint) || die "collecting the iptables files failed"
  sum=$({ sha256sum <"$OUTRIDER"; echo "proxy $(sha256sum <"$OUTRIDER_PROXY")"; echo "iptables ${ipt}"; } | sha256sum | cut -c1-12)
  local ref
  # /outrider is the entrypoint (controller, identity service, capture); the injected proxy
  # container runs /outrider-proxy.
  ref=$(WITH_IPTABLES=1 TAG="dev-${sum}" "${CLUSTER_SRC}/image.sh" outrider "$OUTRIDER" "$OUTRIDER_PROXY") ||
    die "building the outrider image failed"
  IMAGE_TAG="dev-${sum}"
  # Pinned by digest: the injected capture and proxy containers use the same image, and a
  # meshed pod's provenance can only be signed when every image it runs is a digest.
  IMAGE_DIGEST="${ref##*@}"
  [[ "$IMAGE_DIGEST" == sha256:* ]] || die "image.sh printed no digest: ${ref}"
}

# The controller runs in a pod: it reaches the local registry on the bridge gateway, where the
# registry listens too, under the name containerd pulls by. It may contact nothing else, except
# E2E_DOWN_REGISTRY, a port the e2e tests serve themselves to play a registry that hangs.
E2E_DOWN_REGISTRY="127.0.0.1:5999"

install_chart() {
  log "installing outrider (image ${REGISTRY_ADDR}/outrider:${IMAGE_TAG}@${IMAGE_DIGEST}, with the mesh) into ${NAMESPACE}"
  "$OUTRIDER" install --kubeconfig "$ADMIN_KUBECONFIG" -n "$NAMESPACE" \
    --set "image.repository=${REGISTRY_ADDR}/outrider" --set "image.tag=${IMAGE_TAG}" \
    --set "image.digest=${IMAGE_DIGEST}" \
    --set identity.enabled=true --set mesh.enabled=true --set mesh.networkPolicies=true \
    --set imageTrust.readPullSecrets=false \
    --set "identity.defaultTTL=${MESH_CERT_TTL:-1h}" \
    --set "imageTrust.registryHosts={${REGISTRY_ADDR},${E2E_DOWN_REGISTRY}}" \
    --set "imageTrust.registryMirrors={${REGISTRY_ADDR}=${BRIDGE_IP}:${REGISTRY_ADDR##*:},${E2E_DOWN_REGISTRY}=${BRIDGE_IP}:${E2E_DOWN_REGISTRY##*:}}" \
    --set "audit.interval=${AUDIT_INTERVAL:-30s}" \
    --wait --timeout 4m
}

kubectl_() { "${USER_DIR}/bin/kubectl" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }

demo() {
  log "demo: a compliant Deployment"
  kubectl_ apply -f "${REPO_ROOT}/examples/cluster/compliant.yaml" >/dev/null
  kubectl_ -n demo rollout status deployment/hello --timeout 120s >/dev/null ||
    die "the compliant Deployment did not become ready"
  kubectl_ -n demo get pods -l app=hello -o wide >&2
  log "demo: a privileged Deployment (expect a refusal)"
  local out
  if out=$(kubectl_ apply -f "${REPO_ROOT}/examples/cluster/privileged.yaml" 2>&1); then
    kubectl_ delete -f "${REPO_ROOT}/examples/cluster/privileged.yaml" --ignore-not-found >/dev/null
    die "the privileged Deployment was admitted: ${out}"
  fi
  printf '%s\n' "$out" >&2
  [[ "$out" == *"pss.privileged"* ]] || die "the refusal does not name the check"
  log "demo done: the gate admits what complies and refuses what does not, saying why"
}

main() {
  build_and_push
  install_chart
  demo
}

main "$@"
