package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// HTTP/1.1 request framing (RFC 9112) for per-request authorization. The proxy must find
// every request on a keep-alive connection, so it must agree with the application on where
// each body ends; where two readings of the bytes are possible (request smuggling) it refuses
// the request instead of guessing: both Content-Length and Transfer-Encoding, repeated
// framing headers, codings other than "chunked", obsolete line folding, bare LF or CR, NUL.
// Protocol upgrades and CONNECT turn the connection into something that is no longer HTTP,
// so they are refused too.

var (
	errMalformedRequest = errors.New("malformed HTTP/1.1 request")
	errHeadTooLarge     = errors.New("HTTP request head too large")
	errUpgrade          = errors.New("upgrade or CONNECT cannot be authorized per request")
)

// Limits on what a request may look like.
const (
	maxRequestHead     = 64 << 10
	maxChunkLine       = 4 << 10
	maxLeadingCRLF     = 4
	maxContentLength   = 1 << 62
	maxChunkSizeDigits = 15
)

// requestHead is one parsed request head.
type requestHead struct {
	raw     []byte // exactly as received; forwarded unchanged
	method  string
	target  string
	chunked bool
	length  int64
}

// readRequestHead reads the next request head into buf (reused between requests). At a clean
// end of the stream between requests it returns io.EOF.
func readRequestHead(br *bufio.Reader, buf []byte) (requestHead, error) {
	h := requestHead{raw: buf[:0]}
	var line []byte
	var err error
	for i := 0; ; i++ {
		start := len(h.raw)
		if h.raw, line, err = readLine(br, h.raw, maxRequestHead); err != nil {
			if errors.Is(err, io.EOF) && start == 0 && len(h.raw) == 0 {
				return h, io.EOF
			}
			return h, err
		}
		if len(line) > 0 {
			break
		}
		if i == maxLeadingCRLF {
			return h, fmt.Errorf("%w: empty lines before the request", errMalformedRequest)
		}
	}
	if err := h.parseRequestLine(line); err != nil {
		return h, err
	}
	var sawLength, sawEncoding bool
	for {
		if h.raw, line, err = readLine(br, h.raw, maxRequestHead); err != nil {
			return h, err
		}
		if len(line) == 0 {
			break
		}
		name, value, err := splitHeader(line)
		if err != nil {
			return h, err
		}
		switch {
		case bytes.EqualFold(name, []byte("content-length")):
			if sawLength {
				return h, fmt.Errorf("%w: repeated Content-Length", errMalformedRequest)
			}
			sawLength = true
			if h.length, err = parseLength(value); err != nil {
				return h, err
			}
		case bytes.EqualFold(name, []byte("transfer-encoding")):
			if sawEncoding || !bytes.EqualFold(value, []byte("chunked")) {
				return h, fmt.Errorf("%w: Transfer-Encoding must be a single \"chunked\"", errMalformedRequest)
			}
			sawEncoding, h.chunked = true, true
		case bytes.EqualFold(name, []byte("upgrade")):
			return h, errUpgrade
		}
	}
	if sawLength && sawEncoding {
		return h, fmt.Errorf("%w: both Content-Length and Transfer-Encoding", errMalformedRequest)
	}
	return h, nil
}

// parseRequestLine splits "METHOD SP target SP HTTP/1.x".
func (h *requestHead) parseRequestLine(line []byte) error {
	method, rest, ok1 := bytes.Cut(line, []byte(" "))
	target, version, ok2 := bytes.Cut(rest, []byte(" "))
	switch {
	case !ok1 || !ok2 || !isToken(method) || len(target) == 0 || bytes.ContainsAny(target, " \t\x7f") || hasCTL(target):
		return fmt.Errorf("%w: request line %q", errMalformedRequest, truncate(string(line), 64))
	case string(version) != "HTTP/1.1" && string(version) != "HTTP/1.0":
		return fmt.Errorf("%w: version %q", errMalformedRequest, truncate(string(version), 16))
	case string(method) == "CONNECT":
		return errUpgrade
	}
	h.method, h.target = string(method), string(target)
	return nil
}

// readLine appends the next CRLF-terminated line to raw and returns the line without its
// CRLF. raw may not grow past limit.
func readLine(br *bufio.Reader, raw []byte, limit int) ([]byte, []byte, error) {
	start := len(raw)
	for {
		chunk, err := br.ReadSlice('\n')
		if len(raw)+len(chunk) > limit {
			return raw, nil, errHeadTooLarge
		}
		raw = append(raw, chunk...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) && len(raw) > start {
				err = fmt.Errorf("%w: truncated line", errMalformedRequest)
			}
			return raw, nil, err
		}
	}
	line := raw[start:]
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return raw, nil, fmt.Errorf("%w: line not ended by CRLF", errMalformedRequest)
	}
	line = line[:len(line)-2]
	if bytes.IndexByte(line, '\r') >= 0 || bytes.IndexByte(line, 0) >= 0 {
		return raw, nil, fmt.Errorf("%w: CR or NUL inside a line", errMalformedRequest)
	}
	return raw, line, nil
}

// splitHeader splits "name: value", refusing obsolete folding and space before the colon.
func splitHeader(line []byte) (name, value []byte, err error) {
	name, value, ok := bytes.Cut(line, []byte(":"))
	if !ok || !isToken(name) {
		return nil, nil, fmt.Errorf("%w: header line %q", errMalformedRequest, truncate(string(line), 64))
	}
	return name, bytes.Trim(value, " \t"), nil
}

func parseLength(v []byte) (int64, error) {
	if len(v) == 0 || len(v) > 19 {
		return 0, fmt.Errorf("%w: Content-Length %q", errMalformedRequest, truncate(string(v), 24))
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: Content-Length %q", errMalformedRequest, truncate(string(v), 24))
		}
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || n > maxContentLength {
		return 0, fmt.Errorf("%w: Content-Length %q", errMalformedRequest, v)
	}
	return n, nil
}

// copyBody forwards the body that h announced, chunk framing included, unchanged.
func copyBody(dst io.Writer, br *bufio.Reader, h *requestHead, buf []byte, counted func(int)) error {
	if !h.chunked {
		return copyN(dst, br, h.length, buf, counted)
	}
	line := buf[:0:maxChunkLine] // chunk lines are copied through the head of buf
	for {
		raw, l, err := readLine(br, line[:0], maxChunkLine)
		if err != nil {
			return err
		}
		size, err := parseChunkSize(l)
		if err != nil {
			return err
		}
		if err := write(dst, raw, counted); err != nil {
			return err
		}
		if size == 0 {
			return copyTrailers(dst, br, line, counted)
		}
		if err := copyN(dst, br, size, buf, counted); err != nil {
			return err
		}
		raw, l, err = readLine(br, line[:0], maxChunkLine)
		if err != nil {
			return err
		}
		if len(l) != 0 {
			return fmt.Errorf("%w: chunk data longer than its size", errMalformedRequest)
		}
		if err := write(dst, raw, counted); err != nil {
			return err
		}
	}
}

func copyTrailers(dst io.Writer, br *bufio.Reader, line []byte, counted func(int)) error {
	total := 0
	for {
		raw, l, err := readLine(br, line[:0], maxChunkLine)
		if err != nil {
			return err
		}
		if total += len(raw); total > maxRequestHead {
			return errHeadTooLarge
		}
		if len(l) > 0 {
			if _, _, err := splitHeader(l); err != nil {
				return err
			}
		}
		if err := write(dst, raw, counted); err != nil {
			return err
		}
		if len(l) == 0 {
			return nil
		}
	}
}

// parseChunkSize reads "hex[;extension]".
func parseChunkSize(l []byte) (int64, error) {
	hex, _, _ := bytes.Cut(l, []byte(";"))
	hex = bytes.TrimRight(hex, " \t")
	if len(hex) == 0 || len(hex) > maxChunkSizeDigits {
		return 0, fmt.Errorf("%w: chunk size %q", errMalformedRequest, truncate(string(l), 24))
	}
	n, err := strconv.ParseInt(string(hex), 16, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: chunk size %q", errMalformedRequest, truncate(string(l), 24))
	}
	return n, nil
}

// copyN copies exactly n bytes from br to dst through buf.
func copyN(dst io.Writer, br *bufio.Reader, n int64, buf []byte, counted func(int)) error {
	for n > 0 {
		m, err := br.Read(buf[:min(int64(len(buf)), n)])
		if m > 0 {
			if werr := write(dst, buf[:m], counted); werr != nil {
				return werr
			}
			n -= int64(m)
		}
		if err != nil {
			if errors.Is(err, io.EOF) && n > 0 {
				return fmt.Errorf("%w: body shorter than announced", errMalformedRequest)
			}
			if n > 0 {
				return err
			}
		}
	}
	return nil
}

func write(dst io.Writer, b []byte, counted func(int)) error {
	_, err := dst.Write(b)
	if err == nil {
		counted(len(b))
	}
	return err
}

// isToken reports whether b is an RFC 9110 token (method, header name).
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || bytes.IndexByte([]byte("\"(),/:;<=>?@[\\]{}"), c) >= 0 {
			return false
		}
	}
	return true
}

func hasCTL(b []byte) bool {
	for _, c := range b {
		if c < ' ' {
			return true
		}
	}
	return false
}
