//go:build tools

// Package tools pins the cosign CLI that the signature package's interoperability tests run.
// It is built with `make bin/tools/cosign`; nothing in the product imports it.
package tools

import _ "github.com/sigstore/cosign/v2/cmd/cosign"
