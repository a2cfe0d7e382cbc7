#!/usr/bin/env bash
# Regenerate the Go code of the gRPC APIs (api/proto/**.proto → internal/**/*pb).
#
# protoc comes from Debian (apt-get install protobuf-compiler; its well-known types live in
# /usr/include). The Go generators are pinned to the module's own versions and installed into
# bin/tools: protoc-gen-go at the google.golang.org/protobuf version in go.mod, and
# protoc-gen-go-grpc at the newest release whose go.mod needs no newer grpc than ours
# (v1.6.1 needs grpc v1.70; v1.6.2 needs v1.81).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
tools="${root}/bin/tools"
PROTOC_GEN_GO_GRPC_VERSION="${PROTOC_GEN_GO_GRPC_VERSION:-v1.6.1}"
cd "${root}"

if ! command -v protoc >/dev/null; then
	echo "protoc not found: apt-get install protobuf-compiler" >&2
	exit 1
fi
protobuf_version="$(go list -m -f '{{.Version}}' google.golang.org/protobuf)"
GOBIN="${tools}" go install "google.golang.org/protobuf/cmd/protoc-gen-go@${protobuf_version}"
GOBIN="${tools}" go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@${PROTOC_GEN_GO_GRPC_VERSION}"

include=()
if [[ -d /usr/include/google/protobuf ]]; then
	include=(-I /usr/include)
fi
mapfile -t protos < <(find api/proto -name '*.proto' | sort)
PATH="${tools}:${PATH}" protoc -I api/proto "${include[@]}" \
	--go_out=. --go_opt=module=github.com/outrider-sec/outrider \
	--go-grpc_out=. --go-grpc_opt=module=github.com/outrider-sec/outrider \
	"${protos[@]}"
echo "generated from ${#protos[@]} proto file(s) with $(protoc --version), protoc-gen-go ${protobuf_version}, protoc-gen-go-grpc ${PROTOC_GEN_GO_GRPC_VERSION}"
