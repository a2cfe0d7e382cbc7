package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// roundTripper is the http.RoundTripper under every registry request of a Client: it sends
// requests for mirrored registries to their mirror, bounds each request by the timeout, falls
// back to plain http where that is allowed, and counts requests in the metrics. Authentication
// and retries are go-containerregistry's, wrapped around it.
type roundTripper struct {
	base     *http.Transport
	timeout  time.Duration
	metrics  *Metrics
	mirrors  map[string]string // lower-case registry host -> mirror host[:port]
	insecure map[string]bool   // lower-case "host" or "host:port"
	plain    sync.Map          // host -> true: answered https with plain http
}

func newTransport(mirrors map[string]string, insecure []string, timeout time.Duration, m *Metrics) *roundTripper {
	t := &roundTripper{
		timeout:  timeout,
		metrics:  m,
		mirrors:  map[string]string{},
		insecure: map[string]bool{},
		base: &http.Transport{
			Proxy: http.ProxyFromEnvironment,
			DialContext: (&net.Dialer{
				Timeout:   timeout, // the request's context also bounds it
				KeepAlive: 30 * time.Second,
			}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   timeout,
			ExpectContinueTimeout: time.Second,
		},
	}
	for from, to := range mirrors {
		t.mirrors[normalizeHost(from)] = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(to, "https://"), "http://"), "/")
	}
	for _, h := range insecure {
		t.insecure[normalizeHost(h)] = true
	}
	return t
}

// normalizeHost writes a registry host the way go-containerregistry puts it in URLs.
func normalizeHost(h string) string {
	h = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(h, "https://"), "http://"), "/"))
	if h == name.DefaultRegistry || h == "registry-1.docker.io" {
		return "index.docker.io"
	}
	return h
}

func (t *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	// Metrics name the registry of the request that started a chain of redirects; mirrors
	// and plain http are decided by the host this request names.
	registry := strings.ToLower(origin(req).URL.Host)
	host := strings.ToLower(req.URL.Host)
	operation := operationOf(req)
	start := time.Now()

	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	out := req.Clone(ctx)
	if mirror, ok := t.mirrors[host]; ok {
		out.URL.Host = mirror
		out.Host = ""
	}
	if out.URL.Scheme == "https" && t.plainAllowed(host) {
		if _, ok := t.plain.Load(host); ok {
			out.URL.Scheme = "http"
		}
	}

	resp, err := t.base.RoundTrip(out)
	if err != nil && out.URL.Scheme == "https" && t.plainAllowed(host) && answeredPlainHTTP(err) {
		if retry, ok := withScheme(out, "http"); ok {
			t.plain.Store(host, true)
			resp, err = t.base.RoundTrip(retry)
		}
	}
	if err != nil {
		outcome := OutcomeError
		switch {
		case errors.Is(req.Context().Err(), context.Canceled):
			outcome = OutcomeCanceled
		case ctx.Err() != nil || isTimeout(err):
			outcome = OutcomeTimeout
			err = &timeoutError{err: err, timeout: t.timeout}
		}
		cancel()
		t.metrics.observeRequest(registry, operation, outcome, time.Since(start).Seconds())
		return nil, err
	}
	t.metrics.observeRequest(registry, operation, outcomeOf(operation, resp.StatusCode), time.Since(start).Seconds())
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	// Layers above see the request they sent, not the mirror or scheme it went to.
	resp.Request = req
	return resp, nil
}

// plainAllowed: the registry host may be spoken to over http when it does not speak https.
func (t *roundTripper) plainAllowed(host string) bool {
	if t.insecure[host] {
		return true
	}
	if h, _, err := net.SplitHostPort(host); err == nil && t.insecure[h] {
		return true
	}
	reg, err := name.NewRegistry(host, name.WeakValidation)
	return err == nil && reg.Scheme() == "http"
}

// answeredPlainHTTP: the server answered a TLS handshake with an HTTP response.
func answeredPlainHTTP(err error) bool {
	var rh tls.RecordHeaderError
	return errors.As(err, &rh) && string(rh.RecordHeader[:]) == "HTTP/"
}

// withScheme is req sent again with another scheme, if its body can be replayed.
func withScheme(req *http.Request, scheme string) (*http.Request, bool) {
	r := req.Clone(req.Context())
	r.URL.Scheme = scheme
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return nil, false
		}
		body, err := req.GetBody()
		if err != nil {
			return nil, false
		}
		r.Body = body
	}
	return r, true
}

// origin is the request that started a chain of redirects (a blob GET redirected to storage
// is still a blob GET of the registry).
func origin(req *http.Request) *http.Request {
	for req.Response != nil && req.Response.Request != nil {
		req = req.Response.Request
	}
	return req
}

// operationOf names what a request does, from its method and the distribution API path.
func operationOf(req *http.Request) string {
	o := origin(req)
	p := strings.Trim(o.URL.Path, "/")
	parts := strings.Split(p, "/")
	if parts[0] != "v2" {
		if o.URL.Query().Has("scope") || o.URL.Query().Has("service") {
			return "token"
		}
		return "other"
	}
	n := len(parts)
	switch {
	case n == 1:
		return "ping"
	case p == "v2/_catalog":
		return "catalog"
	case n >= 5 && parts[n-3] == "blobs" && parts[n-2] == "uploads",
		n >= 4 && parts[n-2] == "blobs" && parts[n-1] == "uploads":
		return "blob_upload"
	case n >= 4 && parts[n-2] == "manifests":
		return "manifest_" + verb(o.Method)
	case n >= 4 && parts[n-2] == "blobs":
		return "blob_" + verb(o.Method)
	case n >= 4 && parts[n-2] == "referrers":
		return "referrers"
	case n >= 4 && parts[n-2] == "tags":
		return "tags"
	}
	return "other"
}

func verb(method string) string {
	switch method {
	case http.MethodHead:
		return "head"
	case http.MethodGet:
		return "get"
	case http.MethodPut:
		return "put"
	case http.MethodDelete:
		return "delete"
	}
	return "other"
}

// outcomeOf classifies an HTTP answer. A 401 to the ping is how a registry announces that
// it wants credentials, not a refusal.
func outcomeOf(operation string, status int) string {
	switch {
	case status < 400:
		return OutcomeOK
	case status == http.StatusNotFound:
		return OutcomeNotFound
	case status == http.StatusUnauthorized && operation == "ping":
		return OutcomeOK
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return OutcomeUnauthorized
	}
	return OutcomeError
}

// timeoutError is a request that ran out of the client's time. It is a net.Error with
// Timeout() so go-containerregistry does not retry it and callers classify it.
type timeoutError struct {
	err     error
	timeout time.Duration
}

func (e *timeoutError) Error() string {
	return "no answer within " + e.timeout.String() + ": " + e.err.Error()
}
func (e *timeoutError) Unwrap() error   { return e.err }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return false }

// cancelOnClose releases a request's timeout when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
