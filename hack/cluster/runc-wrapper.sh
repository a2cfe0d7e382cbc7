#!/usr/bin/env bash
# runc wrapper for the local cluster's containerd (installed as
# /var/lib/outrider-cluster/bin/runc-wrapper and named by the runc runtime's
# BinaryName).
#
# Why: the VM this runs on lacks CAP_SYS_RESOURCE, so a process may not lower
# its oom_score_adj. Kubernetes asks for -998 on every pod sandbox (and -997
# on Guaranteed pods), and runc then fails with "can't get final child's PID
# from pipe: EOF" / "failed to update /proc/self/oom_score_adj: Permission
# denied". We clamp negative process.oomScoreAdj values to 0 in the bundle's
# config.json (and in an exec's process.json) and then run the real runc.
set -euo pipefail

clamp() {
  local f=$1
  [[ -f "$f" ]] || return 0
  # containerd writes compact JSON; the value is a plain integer.
  if grep -Eq '"oomScoreAdj": ?-[0-9]+' "$f"; then
    sed -Ei 's/"oomScoreAdj": ?-[0-9]+/"oomScoreAdj":0/g' "$f"
  fi
}

args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --bundle|-b) clamp "${args[i+1]:-}/config.json" ;;
    --bundle=*) clamp "${args[i]#--bundle=}/config.json" ;;
    --process|-p) clamp "${args[i+1]:-}" ;;
    --process=*) clamp "${args[i]#--process=}" ;;
  esac
done
exec /usr/sbin/runc "$@"
