// Package identitypb is the generated Go code of the identity API, api/proto/identity/v1: the
// gRPC contract between the sidecar proxies and `outrider identity`. Regenerate it with
// `make proto`; never edit the *.pb.go files.
//
// The .proto is kept under api/proto as the language-neutral contract; the Go code is internal
// because only Outrider's own binaries speak it.
package identitypb
