package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/outrider-sec/outrider/internal/identity/identitypb"
)

// maxTokenSize bounds the token file we read.
const maxTokenSize = 64 << 10

// renewLoop obtains the first certificate, then renews each at about half its life. A failed
// attempt is retried with backoff while the installed certificate keeps serving.
func (c *Client) renewLoop(ctx context.Context) {
	bo := backoff{min: c.cfg.MinBackoff, max: c.cfg.MaxBackoff}
	for ctx.Err() == nil {
		next, err := c.renew(ctx)
		if err != nil {
			wait := bo.next()
			c.cfg.Log.Warn("certificate request failed; keeping the current certificate", "err", err.Error(), "retryIn", wait.String(), "expires", c.Expiry())
			if !c.sleep(ctx, wait) {
				return
			}
			continue
		}
		bo.reset()
		if !c.sleep(ctx, next) {
			return
		}
	}
}

// renew asks for a certificate with a fresh key, installs it, and returns when to renew it.
func (c *Client) renew(ctx context.Context) (time.Duration, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return 0, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		return 0, err
	}
	token, err := readToken(c.cfg.TokenFile)
	if err != nil {
		return 0, err
	}
	req := &pb.IssueCertificateRequest{Csr: csr, Token: token}
	if c.cfg.TTL > 0 {
		req.Ttl = durationpb.New(c.cfg.TTL)
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := c.api.IssueCertificate(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("IssueCertificate: %s: %s", status.Code(err), status.Convert(err).Message())
	}
	bundle, err := bundleFromProto(resp.GetTrustBundle())
	if err != nil {
		return 0, err
	}
	// Check what we install: a chain that does not verify would fail every handshake.
	id, chains, err := x509svid.ParseAndVerify(resp.GetCertificateChain(), bundle)
	if err != nil {
		return 0, fmt.Errorf("the issued certificate does not verify: %w", err)
	}
	leaf := chains[0][0]
	cert := tls.Certificate{Certificate: resp.GetCertificateChain(), PrivateKey: key, Leaf: leaf}
	if err := c.installBundle(bundle); err != nil {
		return 0, err
	}
	if err := c.cfg.Sink.SetCertificate(cert); err != nil {
		return 0, fmt.Errorf("installing the certificate: %w", err)
	}
	c.hasCert.Store(true)
	c.expiry.Store(leaf.NotAfter.UnixNano())
	next := renewAfter(c.cfg.Now(), leaf.NotAfter, mathrand.Float64())
	c.cfg.Log.Info("certificate installed", "id", id.String(), "notAfter", leaf.NotAfter, "renewIn", next.Round(time.Second).String(), "provenance", resp.GetProvenance())
	return next, nil
}

// renewAfter returns the wait until renewal: half the remaining lifetime, ±10% (r is uniform
// in [0, 1)), so the proxies of a Deployment started together do not renew together.
func renewAfter(now, notAfter time.Time, r float64) time.Duration {
	life := notAfter.Sub(now)
	if life <= 0 {
		return 0
	}
	return time.Duration(float64(life) / 2 * (0.9 + 0.2*r))
}

// readToken reads the projected token. It is re-read for every request: the kubelet replaces
// the file before the token expires.
func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the token: %w", err)
	}
	if len(b) > maxTokenSize {
		return "", fmt.Errorf("token file %s: %d bytes", path, len(b))
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", errors.New("the token file is empty")
	}
	return tok, nil
}
