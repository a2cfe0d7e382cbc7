# shellcheck shell=bash
# Smoke test run at the end of `make up`: a pod on the bridge with logs and
# exec working, and a pod that reaches the apiserver through the kubernetes
# Service (10.96.0.1:443) with its own ServiceAccount token. Both pods are
# deleted afterwards.

# kube-system: the cluster's own check must not depend on Outrider. Admission webhooks never
# select kube-system (DESIGN invariant 6), while in `default` a fail-closed webhook whose
# controller is still restarting (after the machine's processes were killed, as before every
# CI run) would refuse the smoke pods.
SMOKE_NS=kube-system

# The smoke pods meet the restricted Pod Security Standards and Outrider's default checks, so
# they pass the admission controller once it is installed (a second `make up`).
smoke_manifest() {
  cat <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: outrider-smoke
  labels: {app: outrider-smoke}
spec:
  terminationGracePeriodSeconds: 1
  automountServiceAccountToken: false
  securityContext: {runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: main
    image: ${BUSYBOX_IMAGE}
    imagePullPolicy: Always
    command: ["sh", "-c", "echo outrider-smoke-hello; trap 'exit 0' TERM; while true; do sleep 1; done"]
    resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {memory: 32Mi}}
    securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
---
apiVersion: v1
kind: Pod
metadata:
  name: outrider-smoke-api
  labels: {app: outrider-smoke}
  annotations:
    security.outrider.dev/ignore: pod.automountServiceAccountToken
    security.outrider.dev/ignore-reason: "checks in-cluster API access with the ServiceAccount token"
spec:
  terminationGracePeriodSeconds: 1
  restartPolicy: Never
  securityContext: {runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: main
    image: ${BUSYBOX_IMAGE}
    imagePullPolicy: Always
    # In-cluster config: the kubernetes Service address from the
    # environment, TLS verified with the ServiceAccount's ca.crt, the
    # projected token; prints the version and the identity the apiserver saw.
    command: ["incluster-check"]
    resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {memory: 32Mi}}
    securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
EOF
}

smoke_cleanup() {
  kc -n "$SMOKE_NS" delete pod -l app=outrider-smoke --ignore-not-found --wait=true --timeout=60s >/dev/null 2>&1 || true
}

run_smoke() {
  log "smoke test: busybox pods on the bridge, logs, exec, in-cluster apiserver access"
  smoke_cleanup
  # The ServiceAccount controller creates `default` shortly after start.
  wait_for "ServiceAccount ${SMOKE_NS}/default" 60 kube-controller-manager kc -n "$SMOKE_NS" get serviceaccount default
  smoke_manifest | kc -n "$SMOKE_NS" apply -f - >/dev/null
  if ! kc -n "$SMOKE_NS" wait --for=condition=Ready pod/outrider-smoke --timeout=120s >/dev/null; then
    kc -n "$SMOKE_NS" describe pod outrider-smoke >&2 || true
    log_tail kubelet; log_tail containerd
    die "smoke pod did not become Ready"
  fi
  local ip out
  ip=$(kc -n "$SMOKE_NS" get pod outrider-smoke -o jsonpath='{.status.podIP}')
  [[ "$ip" == 10.88.* ]] || die "smoke pod IP '${ip}' is not on the bridge (${POD_CIDR})"
  out=$(kc -n "$SMOKE_NS" logs outrider-smoke) || die "kubectl logs failed"
  [[ "$out" == *outrider-smoke-hello* ]] || die "kubectl logs: unexpected output '${out}'"
  out=$(kc -n "$SMOKE_NS" exec outrider-smoke -- sh -c 'ip -4 -o addr show eth0') || die "kubectl exec failed"
  [[ "$out" == *"$ip"* ]] || die "kubectl exec: unexpected output '${out}'"
  log "  pod outrider-smoke Running at ${ip}; logs and exec work"

  local phase deadline=$((SECONDS + 120))
  while :; do
    phase=$(kc -n "$SMOKE_NS" get pod outrider-smoke-api -o jsonpath='{.status.phase}' 2>/dev/null || true)
    [[ "$phase" == Succeeded || "$phase" == Failed ]] && break
    ((SECONDS < deadline)) || break
    sleep 1
  done
  out=$(kc -n "$SMOKE_NS" logs outrider-smoke-api 2>&1 || true)
  if [[ "$phase" != Succeeded || "$out" != *"authenticated as: system:serviceaccount:${SMOKE_NS}:default"* ]]; then
    log "in-cluster apiserver access failed (phase ${phase:-unknown}):"
    printf '%s\n' "$out" >&2
    log_tail kube-proxy
    die "a pod could not reach the apiserver through ${SERVICE_IP}:443"
  fi
  log "  pod outrider-smoke-api reached the apiserver via ${SERVICE_IP}:443 with its token:"
  sed 's/^/      /' <<<"$out" >&2
  smoke_cleanup
}
