# shellcheck shell=bash
# The iptables files `outrider capture` needs at run time, as ocitool build
# arguments, so the Outrider image (image.sh with WITH_IPTABLES=1) can run it
# as a meshed pod's init container.
#
# What capture executes (internal/mesh/capture, backend.go and exec.go): the
# commands <iptables|ip6tables>-<nft|legacy>-<save|restore>, found with
# exec.LookPath in the image's PATH (ocitool sets
# /usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin), as `NAME` for save and
# `NAME` or `NAME --wait=10` (legacy) for restore, the payload on stdin. No
# other name (iptables-restore, alternatives) is used. On Debian these eight
# are links to two multi-call binaries, which dispatch on argv[0]'s basename:
#
#   /usr/sbin/{iptables,ip6tables}-nft-{save,restore}    -> xtables-nft-multi
#   /usr/sbin/{iptables,ip6tables}-legacy-{save,restore} -> xtables-legacy-multi
#
# So the image gets, at the host's own paths (the binaries have them compiled
# in: the ELF interpreter /lib64/ld-linux-x86-64.so.2, libxtables' extension
# directory):
#   - the two binaries and the eight links;
#   - their shared-library closure (ldd): ld-linux, libc, libxtables, libmnl,
#     libnftnl, libip4tc, libip6tc, and Debian's /lib and /lib64 links into
#     /usr (merged /usr);
#   - the xtables extensions listed in IPTABLES_EXTENSIONS (loaded with
#     dlopen when a rule names them, for restore and for save), and their own
#     libraries.
# Nothing else is read: the owner match calls getpwnam/getgrnam on "1337"
# first, which without /etc/nsswitch.conf and /etc/passwd falls back to the
# number; the legacy backend's restore opens its lock /run/xtables.lock
# (XTABLES_LOCKFILE overrides it), so the pod mounts an emptyDir on /run when
# the root filesystem is read-only. The image gets an empty /run for that.
#
# Usage (sourced):
#   iptables_collect             # fills IPTABLES_IMAGE_ARGS and IPTABLES_MANIFEST
#   ocitool build ... "${IPTABLES_IMAGE_ARGS[@]}"
#   iptables_fingerprint         # prints a short hash of the files' paths and contents
# Run directly it prints the manifest (one "file|link|dir PATH ..." line each).

IPTABLES_SBIN=/usr/sbin
IPTABLES_MULTI_BINARIES=(xtables-nft-multi xtables-legacy-multi)
# The names capture runs: Backend.tool in internal/mesh/capture/backend.go.
IPTABLES_COMMANDS=(
  iptables-nft-save iptables-nft-restore ip6tables-nft-save ip6tables-nft-restore
  iptables-legacy-save iptables-legacy-restore ip6tables-legacy-save ip6tables-legacy-restore
)
IPTABLES_XTABLES_DIR=/usr/lib/x86_64-linux-gnu/xtables
# Extensions (dlopen'ed from IPTABLES_XTABLES_DIR by name when a rule uses
# one, by restore and by save). Those of capture's own rules: the set
# LD_DEBUG=files shows for restore and save of `outrider capture --dry-run`'s
# payloads, with and without exclusions, both backends and both families:
# standard (jumps), owner, mark, multiport, conntrack, REDIRECT (a link to
# libxt_NAT.so) and REJECT (one per family); plus tcp for `-p tcp` options.
# Then the two attacks docs/mesh-capture.md names, MARK in mangle and
# CT --notrack in raw (NOTRACK is a link to CT), so that capture's refusal
# quotes such a rule; and DNAT, SNAT, MASQUERADE, links to libxt_NAT.so,
# which REDIRECT brings anyway. Any other foreign rule in the pod's tables makes
# iptables-*-save fail ("Can't find library for target `X'", "target
# extension not found"), and capture fails closed with that message.
IPTABLES_EXTENSIONS=(
  libxt_standard libxt_owner libxt_mark libxt_multiport libxt_conntrack libxt_REDIRECT
  libipt_REJECT libip6t_REJECT libxt_tcp
  libxt_MARK libxt_CT libxt_NOTRACK libxt_DNAT libxt_SNAT libxt_MASQUERADE
)
# IPTABLES_ALL_EXTENSIONS=1: every iptables/ip6tables extension of the
# package instead (not ebtables/arptables): about 0.7 MB more compressed,
# for an image whose capture should name foreign rules of any kind.
IPTABLES_ALL_EXTENSIONS=${IPTABLES_ALL_EXTENSIONS:-0}

IPTABLES_IMAGE_ARGS=()
IPTABLES_MANIFEST=()

# _ipt_add PATH: add PATH to the image as it is on this machine. A symbolic
# link anywhere on the path (/lib -> usr/lib, libxt_REDIRECT.so ->
# libxt_NAT.so, iptables-nft-save -> xtables-nft-multi) is added as that link
# and the walk goes on at its target, so nothing in the layer lies below a
# link. Each path is added once.
declare -A _IPT_SEEN=()
_ipt_add() {
  local p=$1 cur="" comp rest target mode
  [[ "$p" == /* ]] || { log "iptables-files: ${p}: not absolute"; return 1; }
  [[ -n "${_IPT_SEEN[$p]:-}" ]] && return 0
  _IPT_SEEN[$p]=1
  rest=${p#/}
  while [[ -n "$rest" ]]; do
    comp=${rest%%/*}
    if [[ "$rest" == */* ]]; then rest=${rest#*/}; else rest=""; fi
    cur="${cur}/${comp}"
    if [[ -L "$cur" ]]; then
      target=$(readlink "$cur")
      if [[ -z "${_IPT_SEEN[link:$cur]:-}" ]]; then
        _IPT_SEEN[link:$cur]=1
        IPTABLES_IMAGE_ARGS+=(--symlink "${cur}:${target}")
        IPTABLES_MANIFEST+=("link ${cur} ${target}")
      fi
      [[ "$target" == /* ]] || target="$(dirname "$cur")/${target}"
      _ipt_add "$(realpath -m -s "${target}${rest:+/$rest}")"
      return
    fi
  done
  [[ -f "$p" ]] || { log "iptables-files: ${p}: not a regular file"; return 1; }
  mode=$(stat -c %a "$p")
  IPTABLES_IMAGE_ARGS+=(--file "${p}:${p}:${mode}")
  IPTABLES_MANIFEST+=("file ${p} ${mode} $(sha256sum "$p" | cut -d' ' -f1)")
}

# _ipt_add_libs FILE: add the shared libraries FILE needs and its ELF
# interpreter, as ldd resolves them.
_ipt_add_libs() {
  local f=$1 line lib out
  out=$(ldd "$f") || { log "iptables-files: ldd ${f} failed"; return 1; }
  while read -r line; do
    case "$line" in
      *"not found"*) log "iptables-files: ${f}: ${line}"; return 1 ;;
      *" => /"*) lib=${line#*=> }; lib=${lib%% (*} ;;
      /*) lib=${line%% (*} ;;
      *) continue ;;   # linux-vdso.so.1
    esac
    _ipt_add "$lib" || return 1
  done <<<"$out"
}

# iptables_collect: fill IPTABLES_IMAGE_ARGS (ocitool build arguments) and
# IPTABLES_MANIFEST (what they add, with content hashes).
iptables_collect() {
  local name f ext
  IPTABLES_IMAGE_ARGS=() IPTABLES_MANIFEST=()
  _IPT_SEEN=()
  for name in "${IPTABLES_MULTI_BINARIES[@]}"; do
    f="${IPTABLES_SBIN}/${name}"
    [[ -x "$f" ]] || { log "iptables-files: ${f} missing (Debian package iptables)"; return 1; }
    _ipt_add "$f" || return 1
    _ipt_add_libs "$f" || return 1
  done
  for name in "${IPTABLES_COMMANDS[@]}"; do
    f="${IPTABLES_SBIN}/${name}"
    [[ -L "$f" && -x "$f" ]] || { log "iptables-files: ${f} is not a link to a multi-call binary"; return 1; }
    case "$(basename "$(readlink -f "$f")")" in
      xtables-nft-multi|xtables-legacy-multi) ;;
      *) log "iptables-files: ${f} does not lead to xtables-{nft,legacy}-multi"; return 1 ;;
    esac
    _ipt_add "$f" || return 1
  done
  local exts=()
  if [[ "$IPTABLES_ALL_EXTENSIONS" == 1 ]]; then
    for f in "${IPTABLES_XTABLES_DIR}"/lib{xt,ipt,ip6t}_*.so; do exts+=("$(basename "$f" .so)"); done
  else
    exts=("${IPTABLES_EXTENSIONS[@]}")
  fi
  for ext in "${exts[@]}"; do
    f="${IPTABLES_XTABLES_DIR}/${ext}.so"
    [[ -e "$f" ]] || { log "iptables-files: ${f} missing"; return 1; }
    _ipt_add "$f" || return 1
    _ipt_add_libs "$(readlink -f "$f")" || return 1
  done
  # The legacy backend's lock file, /run/xtables.lock: an emptyDir goes here.
  IPTABLES_IMAGE_ARGS+=(--dir /run:0755)
  IPTABLES_MANIFEST+=("dir /run 0755")
}

# iptables_fingerprint: a short hash of the manifest (paths, modes, contents):
# a package upgrade changes it, and with it the image tag.
iptables_fingerprint() {
  ((${#IPTABLES_MANIFEST[@]})) || iptables_collect || return 1
  printf '%s\n' "${IPTABLES_MANIFEST[@]}" | sort | sha256sum | cut -c1-12
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  log() { printf '%s\n' "$*" >&2; }
  iptables_collect
  printf '%s\n' "${IPTABLES_MANIFEST[@]}"
fi
