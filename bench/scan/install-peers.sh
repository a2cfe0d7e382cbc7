#!/usr/bin/env bash
# Install the peer scanners the scan benchmark compares `outrider scan` with.
#
# Each peer is built from the Go module proxy with `go install pkg@version` into
# bench/.tools/bin (git-ignored); the main module's go.mod is never touched.
# Versions are pinned to releases that build with this repository's Go
# (GOTOOLCHAIN=local). A peer that fails to build is skipped with a note, not an
# error: the reason is kept in bench/.tools/skipped/NAME and run.sh reports it.
#
# Also installs the Debian packages "time" (/usr/bin/time, for peak RSS) and
# "jq" when they are missing.
#
# Usage: bench/scan/install-peers.sh [--force]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tools="$root/bench/.tools"
bin="$tools/bin"
skipped="$tools/skipped"
force=false
[[ ${1:-} == --force ]] && force=true

# name|package|version. Pinned: the newest release that installs with go 1.26.8.
peers=(
	"kube-score|github.com/zegl/kube-score/cmd/kube-score|v1.20.0"
	"conftest|github.com/open-policy-agent/conftest|v0.71.1"
	"gator|github.com/open-policy-agent/gatekeeper/v3/cmd/gator|v3.23.1"
)

# Peers the issue names that the Go module proxy does not serve (it answers
# 403 "This module version is not available"), so they cannot be installed here.
unavailable=(
	"kube-linter|golang.stackrox.io/kube-linter: not served by the Go module proxy (403)"
	"kubesec|github.com/controlplaneio/kubesec/v2: not served by the Go module proxy (403)"
	"polaris|github.com/fairwindsops/polaris: not served by the Go module proxy"
)

mkdir -p "$bin" "$skipped"

# /usr/bin/time measures peak RSS; jq counts outrider's JSON findings.
debs=()
[[ -x /usr/bin/time ]] || debs+=(time)
command -v jq >/dev/null || debs+=(jq)
if ((${#debs[@]})); then
	echo "install-peers: apt-get install ${debs[*]}"
	sudo=()
	[[ $(id -u) -eq 0 ]] || sudo=(sudo)
	"${sudo[@]}" apt-get update -qq
	"${sudo[@]}" apt-get install -y -qq "${debs[@]}" >/dev/null
fi

# Build outside the repository so no go.mod or go.work is consulted.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for p in "${peers[@]}"; do
	IFS='|' read -r name pkg version <<<"$p"
	stamp="$bin/.$name.version"
	if ! $force && [[ -x $bin/$name && -f $stamp && $(<"$stamp") == "$version" ]]; then
		echo "install-peers: $name $version already installed"
		continue
	fi
	echo "install-peers: go install $pkg@$version (can take a few minutes)"
	log="$work/$name.log"
	if (cd "$work" && GOBIN="$bin" GOTOOLCHAIN=local GOWORK=off GOFLAGS=-mod=mod \
		go install "$pkg@$version") >"$log" 2>&1; then
		echo "$version" >"$stamp"
		rm -f "$skipped/$name"
	else
		rm -f "$bin/$name" "$stamp"
		{
			echo "$pkg@$version did not build with $(go env GOVERSION):"
			grep -v '^go: downloading' "$log" | tail -n 5
		} >"$skipped/$name"
		echo "install-peers: NOTE: skipping $name, it did not build:" >&2
		sed 's/^/  /' "$skipped/$name" >&2
	fi
done

for u in "${unavailable[@]}"; do
	IFS='|' read -r name why <<<"$u"
	echo "$why" >"$skipped/$name"
	echo "install-peers: NOTE: $name not benchmarked: $why"
done
