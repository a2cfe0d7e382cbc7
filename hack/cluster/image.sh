#!/usr/bin/env bash
# image.sh NAME BINARY [BINARY...]: build a minimal image from static
# binaries and push it to the local cluster's registry as
# 127.0.0.1:5000/NAME:${TAG:-dev}.
#
# Each binary goes to /<basename>; the first one is the entrypoint; the image
# runs as uid/gid 65532 (non-root) with a writable /tmp. Uses ocitool
# (go-containerregistry): no Docker, no Dockerfile. The registry must be
# running (`make up`). Prints NAME@sha256:... on success, so a caller can pin
# the digest:
#
#   hack/cluster/image.sh outrider bin/outrider bin/outrider-proxy
#   TAG=e2e hack/cluster/image.sh outrider bin/outrider bin/outrider-proxy
#
# WITH_IPTABLES=1 adds the iptables commands `outrider capture` runs (both
# backends, both families), their libraries and extensions, at Debian's paths,
# and an empty /run (lib/iptables-files.sh): the Outrider image carries them
# so the same image serves as the mesh's capture init container.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/iptables-files.sh"

main() {
  (($# >= 2)) || die "usage: $0 NAME BINARY [BINARY...]"
  local name=$1; shift
  local tag=${TAG:-dev} files=() bin entry=""
  [[ -x "${TOOLS_BIN}/ocitool" ]] || die "${TOOLS_BIN}/ocitool missing: run 'make up' first"
  curl -fsS -o /dev/null "http://${REGISTRY_ADDR}/v2/" || die "no registry on ${REGISTRY_ADDR}: run 'make up' first"
  for bin in "$@"; do
    [[ -x "$bin" ]] || die "${bin}: not an executable file"
    # The image has no libc: a dynamically linked binary would not start.
    if ldd "$bin" >/dev/null 2>&1; then
      die "${bin} is dynamically linked; build it with CGO_ENABLED=0"
    fi
    files+=(--file "${bin}:/$(basename "$bin"):0755")
    [[ -z "$entry" ]] && entry="/$(basename "$bin")"
  done
  if [[ "${WITH_IPTABLES:-0}" == 1 ]]; then
    iptables_collect || die "collecting the iptables files failed"
    files+=("${IPTABLES_IMAGE_ARGS[@]}")
  fi
  log "building ${REGISTRY_ADDR}/${name}:${tag} from $*${WITH_IPTABLES:+ (WITH_IPTABLES=${WITH_IPTABLES})}"
  "${TOOLS_BIN}/ocitool" build --base-empty "${files[@]}" \
    --dir /tmp:1777 \
    --entrypoint "$entry" --user 65532:65532 \
    --push "${REGISTRY_ADDR}/${name}:${tag}"
}

main "$@"
