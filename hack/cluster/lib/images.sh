# shellcheck shell=bash
# The local registry and the images the cluster needs. The registry listens on
# 127.0.0.1:5000 (the name in every image reference; containerd pulls there)
# and, for pulls only, on the bridge gateway 10.88.0.1:5000, the address of
# this machine a pod can reach (a pod's 127.0.0.1 is its own): Outrider's
# controller dials it there to resolve and verify images named
# 127.0.0.1:5000/... Read-only, so no pod can push over the cluster's images.
# The bridge has its address before the registry starts (ensure_bridge runs
# first in up.sh).
# Images are built with ocitool (go-containerregistry): no Docker, no
# Dockerfile. Each build is reproducible (fixed timestamps), so pushing an
# unchanged image again is a no-op that keeps its digest.

BUSYBOX_IMAGE="${REGISTRY_ADDR}/busybox:outrider"

start_registry() {
  mkdir -p "$REGISTRY_DIR"
  run_daemon registry "${TOOLS_BIN}/ocitool" registry \
    --addr "$REGISTRY_ADDR" --read-only-addr "$REGISTRY_POD_ADDR" --dir "$REGISTRY_DIR"
  wait_for "registry on ${REGISTRY_ADDR}" 30 registry curl -fsS "http://${REGISTRY_ADDR}/v2/"
  wait_for "registry on ${REGISTRY_POD_ADDR}" 30 registry curl -fsS "http://${REGISTRY_POD_ADDR}/v2/"
}

# image_present REF: the registry serves a manifest for REF (NAME:TAG).
image_present() {
  local ref=$1 repo tag
  repo=${ref#"${REGISTRY_ADDR}/"}; tag=${repo##*:}; repo=${repo%:*}
  curl -fs -o /dev/null -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://${REGISTRY_ADDR}/v2/${repo}/manifests/${tag}"
}

build_pause_image() {
  "${TOOLS_BIN}/ocitool" build --base-empty \
    --file "${TOOLS_BIN}/pause:/pause:0755" \
    --entrypoint /pause --user 65535:65535 \
    --push "$PAUSE_IMAGE" >/dev/null
}

# build_busybox_image: Debian's busybox-static with a symlink per applet, a
# writable /tmp, passwd/group entries, and incluster-check (busybox's wget
# cannot do https).
build_busybox_image() {
  local bb=/bin/busybox applet links=() etc
  [[ -x "$bb" ]] || die "${bb} missing (package busybox-static)"
  for applet in $("$bb" --list); do
    [[ "$applet" == busybox ]] && continue
    links+=(--symlink "/bin/${applet}:busybox")
  done
  etc=$(mktemp -d)
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\nnonroot:x:65532:65532:nonroot:/home/nonroot:/bin/false\n' >"${etc}/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"${etc}/group"
  "${TOOLS_BIN}/ocitool" build --base-empty \
    --file "${bb}:/bin/busybox:0755" "${links[@]}" \
    --file "${etc}/passwd:/etc/passwd:0644" --file "${etc}/group:/etc/group:0644" \
    --file "${TOOLS_BIN}/incluster-check:/usr/local/bin/incluster-check:0755" \
    --dir /tmp:1777 --dir /root:0700 \
    --cmd sh \
    --push "$BUSYBOX_IMAGE" >/dev/null
  rm -rf "$etc"
}

# ensure_base_images: pause and busybox, pushed again only when missing
# (e.g. a registry whose data was purged) or when the pause binary changed.
ensure_base_images() {
  if ! image_present "$PAUSE_IMAGE" || [[ "${TOOLS_BIN}/pause" -nt "${REGISTRY_DIR}/.pause-pushed" ]]; then
    log "pushing ${PAUSE_IMAGE}"
    build_pause_image && touch "${REGISTRY_DIR}/.pause-pushed"
  fi
  if ! image_present "$BUSYBOX_IMAGE" || [[ "${TOOLS_BIN}/incluster-check" -nt "${REGISTRY_DIR}/.busybox-pushed" ]]; then
    log "pushing ${BUSYBOX_IMAGE}"
    build_busybox_image && touch "${REGISTRY_DIR}/.busybox-pushed"
  fi
}

# ensure_outrider_image: Outrider's own image from bin/outrider, if built, with the mesh
# sidecar bin/outrider-proxy beside it when that is built too (as install-outrider.sh's image).
ensure_outrider_image() {
  local bin="${REPO_ROOT}/bin/outrider" proxy_bin="${REPO_ROOT}/bin/outrider-proxy" bins=()
  if [[ ! -x "$bin" ]]; then
    log "note: ${bin} not found, skipping the outrider image (run 'make build', then 'make up' or hack/cluster/image.sh outrider bin/outrider bin/outrider-proxy)"
    rm -f "${USER_DIR}/outrider-image"
    return 0
  fi
  if ldd "$bin" >/dev/null 2>&1; then
    # Not fatal for the cluster; whatever needs the image fails on its own.
    log "WARNING: ${bin} is dynamically linked and cannot run in a distroless image;"
    log "         skipping the outrider image (build it with 'make build', which sets CGO_ENABLED=0)"
    rm -f "${USER_DIR}/outrider-image"
    return 0
  fi
  bins=("$bin")
  if [[ -x "$proxy_bin" ]] && ! ldd "$proxy_bin" >/dev/null 2>&1; then
    bins+=("$proxy_bin")
  else
    log "note: ${proxy_bin} missing or not static: the outrider image has no /outrider-proxy, which meshed pods run (run 'make build')"
  fi
  local ref
  # With the iptables commands for `outrider capture`, like install-outrider.sh's image.
  ref=$(WITH_IPTABLES=1 "${CLUSTER_SRC}/image.sh" outrider "${bins[@]}") || die "building the outrider image failed"
  # The digest reference, for install-outrider.sh and e2e tests: the dev tag
  # moves, a digest does not (and kubelet's IfNotPresent would keep a stale
  # image for a reused tag).
  echo "$ref" | write_file "${USER_DIR}/outrider-image"
  log "pushed ${ref} (also in ${USER_DIR}/outrider-image)"
}
