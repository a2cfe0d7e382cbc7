package proxy

import (
	"bufio"
	"errors"
)

// http2 is not implemented yet: HTTP/2 on a port that needs per-request authorization is
// refused.
func (in *inspection) http2(br *bufio.Reader, up *idleWriter, count func(int)) error {
	in.p.denied(in.lg, "", reasonHTTPMalformed, "HTTP/2 per-request authorization is not implemented")
	return errors.New("http/2 not supported")
}
