# shellcheck shell=bash
# Shared settings and helpers of the local cluster scripts (hack/cluster).
# Sourced by up.sh, down.sh, status.sh and image.sh; defines no side effects
# beyond variables and functions.

# --- versions --------------------------------------------------------------
K8S_VERSION="v1.34.4"

# make may run us with a PATH that lacks the Go toolchain.
case ":${PATH}:" in *:/usr/local/go/bin:*) ;; *) PATH="${PATH}:/usr/local/go/bin" ;; esac

# --- where things live --------------------------------------------------------
# Everything stateful lives in fixed machine locations, never in the checkout:
# CI runs in a fresh clone and must find (and clean up) what an earlier
# checkout left behind.
CLUSTER_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"   # hack/cluster
REPO_ROOT="$(cd "${CLUSTER_SRC}/../.." && pwd)"
CACHE_DIR="${OUTRIDER_CACHE_DIR:-/var/cache/outrider}"
K8S_BIN="${CACHE_DIR}/k8s-${K8S_VERSION}/bin"
TOOLS_BIN="${CACHE_DIR}/tools/bin"              # ocitool, pause (rebuilt when sources change)
STATE_DIR="/var/lib/outrider-cluster"           # etcd data, pki, kubelet, containerd root, registry
RUN_DIR="/run/outrider-cluster"                 # pid files, sockets, containerd state
LOG_DIR="/var/log/outrider-cluster"
PKI_DIR="${STATE_DIR}/pki"
CONF_DIR="${STATE_DIR}/conf"                    # kubeconfigs and component configs
CNI_CONF_DIR="${STATE_DIR}/cni/net.d"
CNI_BIN_DIR="/usr/lib/cni"
CNI_STATE_DIR="/var/lib/cni/networks/outrider"  # host-local IPAM leases (fixed by the plugin)
CONTAINERD_ROOT="${STATE_DIR}/containerd"
CONTAINERD_STATE="${RUN_DIR}/containerd"
CONTAINERD_SOCK="${CONTAINERD_STATE}/containerd.sock"
REGISTRY_DIR="${STATE_DIR}/registry"
KUBELET_ROOT="${STATE_DIR}/kubelet"
USER_DIR="${REPO_ROOT}/.outrider"               # git-ignored: kubeconfig and a kubectl link
ADMIN_KUBECONFIG="${USER_DIR}/kubeconfig"

# --- network -------------------------------------------------------------------
# 10.88.0.0/16 is checked against the machine's addresses in check_subnet.
NODE_NAME="outrider-node"
BRIDGE="outrider0"
POD_CIDR="10.88.0.0/16"
BRIDGE_IP="10.88.0.1"          # gateway of the pods; the apiserver listens here too
SERVICE_CIDR="10.96.0.0/16"
SERVICE_IP="10.96.0.1"         # the `kubernetes` Service
APISERVER_PORT=6443
APISERVER_URL="https://${BRIDGE_IP}:${APISERVER_PORT}"
REGISTRY_ADDR="127.0.0.1:5000"           # image names use this one (containerd pulls from it)
REGISTRY_POD_ADDR="${BRIDGE_IP}:5000"    # the same registry, pull-only, for pods (Outrider's controller)
ETCD_CLIENT="http://127.0.0.1:2379"

# The components `up` starts, in start order. The pid file of each is
# ${RUN_DIR}/<name>.pid and its log ${LOG_DIR}/<name>.log.
COMPONENTS=(registry etcd containerd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)

# --- logging --------------------------------------------------------------------
log() { printf '[cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# log_tail NAME: print the end of a component's log, for failure reports.
log_tail() {
  local f="${LOG_DIR}/$1.log"
  [[ -f "$f" ]] || return 0
  log "--- last lines of ${f} ---"
  tail -n 40 "$f" >&2 || true
  log "--- end of ${f} ---"
}

# --- processes -------------------------------------------------------------------
pidfile() { echo "${RUN_DIR}/$1.pid"; }

# expected_exe NAME: the binary a component's process must run, so we never
# signal a pid that was reused by an unrelated process.
expected_exe() {
  case "$1" in
    registry) echo "${TOOLS_BIN}/ocitool" ;;
    etcd) echo "/usr/bin/etcd" ;;
    containerd) echo "/usr/bin/containerd" ;;
    kube-*|kubelet) echo "${K8S_BIN}/$1" ;;
    *) return 1 ;;
  esac
}

# pid_of NAME: print the live pid of a component we started, or fail.
# A pid counts only if /proc/PID/exe is the component's binary; a stale pid
# file (process gone, or pid reused) is treated as "not running".
pid_of() {
  local name=$1 f pid exe want
  f=$(pidfile "$name")
  [[ -f "$f" ]] || return 1
  pid=$(<"$f")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  exe=$(readlink "/proc/${pid}/exe" 2>/dev/null) || return 1
  want=$(expected_exe "$name")
  # A binary replaced on disk shows as "PATH (deleted)"; still ours.
  [[ "${exe% (deleted)}" == "$want" ]] || return 1
  echo "$pid"
}

is_running() { pid_of "$1" >/dev/null; }

# fingerprint CMD...: a hash of a command line and of the content of every
# file it names, plus the certificates. A component whose fingerprint changed
# (new flags, new config file, reissued certs) is restarted by run_daemon.
fingerprint() {
  local a
  {
    printf '%s\n' "$@"
    for a in "$@"; do [[ -f "$a" ]] && cat "$a"; done
    cat "${PKI_DIR}"/*.crt 2>/dev/null || true
  } | sha256sum | cut -d' ' -f1
}

# run_daemon NAME CMD...: make sure CMD runs as component NAME. A running
# instance with the same fingerprint is reused; one with another fingerprint
# is stopped and started again. A new process is started in its own session
# (so the end of `make` or a Ctrl-C never reaches it), with no stdin, logging
# to ${LOG_DIR}/NAME.log, and its pid is recorded.
run_daemon() {
  local name=$1; shift
  local fp pid
  fp=$(fingerprint "$@")
  if pid=$(pid_of "$name"); then
    if [[ "$(cat "${RUN_DIR}/${name}.fingerprint" 2>/dev/null)" == "$fp" ]]; then
      log "${name} is running (pid ${pid}), reusing it"
      return 0
    fi
    log "${name}: configuration changed, restarting"
    stop_daemon "$name"
  fi
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  log "starting ${name}"
  printf '\n===== %s starting: %s\n' "$(date -Is)" "$*" >>"${LOG_DIR}/${name}.log"
  setsid "$@" </dev/null >>"${LOG_DIR}/${name}.log" 2>&1 &
  pid=$!
  echo "$pid" >"$(pidfile "$name")"
  echo "$fp" >"${RUN_DIR}/${name}.fingerprint"
  # Until the child has exec'd, /proc/PID/exe is bash or setsid, not the
  # component: wait for that, so later liveness checks are not fooled.
  local i
  for i in $(seq 1 100); do
    is_running "$name" && return 0
    [[ -d "/proc/${pid}" ]] || break
    sleep 0.05
  done
  log "${name} did not start"
  log_tail "$name"
  return 1
}

# stop_daemon NAME: SIGTERM the recorded pid if it is still ours, wait, then SIGKILL.
stop_daemon() {
  local name=$1 pid i
  if pid=$(pid_of "$name"); then
    log "stopping ${name} (pid ${pid})"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
      [[ -d "/proc/${pid}" ]] || break
      sleep 0.2
    done
    if [[ -d "/proc/${pid}" ]]; then
      log "${name} did not stop in 10s; SIGKILL ${pid}"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$(pidfile "$name")" "${RUN_DIR}/${name}.fingerprint"
}

# wait_for WHAT TIMEOUT_S LOGNAME CMD...: retry CMD until it succeeds; on
# timeout print the tail of LOGNAME's log and fail.
wait_for() {
  local what=$1 timeout=$2 logname=$3; shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "timed out after ${timeout}s waiting for ${what}"
      [[ -n "$logname" ]] && log_tail "$logname"
      return 1
    fi
    if [[ -n "$logname" && "$logname" != "-" ]] && [[ "$(expected_exe "$logname" 2>/dev/null)" ]] && ! is_running "$logname"; then
      log "${logname} exited while waiting for ${what}"
      log_tail "$logname"
      return 1
    fi
    sleep 1
  done
}

# kubectl as the cluster admin.
kc() { "${K8S_BIN}/kubectl" --kubeconfig "${ADMIN_KUBECONFIG}" "$@"; }

# write_file PATH [MODE]: write stdin to PATH only if the content differs.
# Components watch their files (kube-proxy exits when its config file is
# written, even with the same content), so an unchanged file is left alone.
write_file() {
  local path=$1 mode=${2:-0644} tmp
  mkdir -p "$(dirname "$path")"
  tmp="${path}.tmp.$$"
  cat >"$tmp"
  chmod "$mode" "$tmp"
  if cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
  else
    mv -f "$tmp" "$path"
  fi
}

need_root() { [[ $(id -u) -eq 0 ]] || die "the local cluster needs root (network namespaces, mounts, iptables)"; }
