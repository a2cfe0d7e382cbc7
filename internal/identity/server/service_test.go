package server_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	pb "github.com/outrider-sec/outrider/internal/identity/identitypb"
	"github.com/outrider-sec/outrider/internal/identity/identitytest"
	"github.com/outrider-sec/outrider/internal/identity/server"
)

func csr(t testing.TB, key crypto.Signer, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	if tmpl == nil {
		tmpl = &x509.CertificateRequest{}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func p256(t testing.TB) crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func shortTTL(o *server.Options) { o.MaxTTL = time.Hour }

func TestIssueCertificateForTheTokensPod(t *testing.T) {
	h := identitytest.Start(t, shortTTL)
	h.Namespace(t, "shop", true)
	pod := h.Pod(t, "shop", "payments-1", "payments", "10.88.0.5", nil)
	client := pb.NewIdentityClient(h.Dial(t))
	resp, err := client.IssueCertificate(context.Background(), &pb.IssueCertificateRequest{
		Csr: csr(t, p256(t), nil), Token: h.Token(pod, identitytest.Audience, time.Now().Add(10*time.Minute)),
		Ttl: durationpb.New(2 * time.Minute),
	})
	if err != nil {
		t.Fatalf("IssueCertificate: %v", err)
	}
	if want := "spiffe://cluster.local/ns/shop/sa/payments"; resp.SpiffeId != want {
		t.Errorf("SPIFFE ID %s, want %s", resp.SpiffeId, want)
	}
	id, chains, err := x509svid.ParseAndVerify(resp.CertificateChain, h.Bundle())
	if err != nil || id.String() != resp.SpiffeId || len(chains) == 0 {
		t.Fatalf("the chain does not verify against the bundle: %v (id %s)", err, id)
	}
	leaf := chains[0][0]
	if life := time.Until(leaf.NotAfter); life < 110*time.Second || life > 2*time.Minute {
		t.Errorf("leaf expires in %v, want the requested 2m", life)
	}
	if !resp.ExpiresAt.AsTime().Equal(leaf.NotAfter) || len(resp.TrustBundle.Roots) != 1 || resp.TrustBundle.TrustDomain != "cluster.local" {
		t.Errorf("response: expiresAt %v, bundle %d roots in %q", resp.ExpiresAt.AsTime(), len(resp.TrustBundle.Roots), resp.TrustBundle.TrustDomain)
	}
	if !strings.Contains(h.Logs.String(), `"msg":"certificate issued"`) {
		t.Error("issuance was not logged")
	}
}

// TestCSRCannotChooseTheIdentity: names and extensions in the CSR are ignored; the identity
// is the token's.
func TestCSRCannotChooseTheIdentity(t *testing.T) {
	h := identitytest.Start(t, shortTTL)
	h.Namespace(t, "shop", true)
	pod := h.Pod(t, "shop", "web-1", "web", "10.88.0.5", nil)
	admin, _ := url.Parse("spiffe://cluster.local/ns/kube-system/sa/admin")
	evil := csr(t, p256(t), &x509.CertificateRequest{
		Subject:         pkix.Name{CommonName: "spiffe://cluster.local/ns/kube-system/sa/admin"},
		URIs:            []*url.URL{admin},
		DNSNames:        []string{"kubernetes.default.svc"},
		IPAddresses:     []net.IP{net.ParseIP("10.0.0.1")},
		ExtraExtensions: []pkix.Extension{{Id: []int{2, 5, 29, 19}, Critical: true, Value: []byte{0x30, 0x03, 0x01, 0x01, 0xff}}}, // CA:TRUE
	})
	resp, err := pb.NewIdentityClient(h.Dial(t)).IssueCertificate(context.Background(), &pb.IssueCertificateRequest{
		Csr: evil, Token: h.Token(pod, identitytest.Audience, time.Now().Add(10*time.Minute)),
	})
	if err != nil {
		t.Fatalf("IssueCertificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(resp.CertificateChain[0])
	if err != nil {
		t.Fatal(err)
	}
	if resp.SpiffeId != "spiffe://cluster.local/ns/shop/sa/web" || len(leaf.URIs) != 1 || leaf.URIs[0].String() != resp.SpiffeId {
		t.Errorf("the CSR chose the identity: %s, URIs %v", resp.SpiffeId, leaf.URIs)
	}
	if leaf.IsCA || len(leaf.DNSNames) > 0 || len(leaf.IPAddresses) > 0 || leaf.Subject.CommonName != "" {
		t.Errorf("the CSR's fields reached the leaf: CA %v, DNS %v, IPs %v, CN %q", leaf.IsCA, leaf.DNSNames, leaf.IPAddresses, leaf.Subject.CommonName)
	}
}

func TestIssueCertificateRefusals(t *testing.T) {
	h := identitytest.Start(t, shortTTL)
	h.Namespace(t, "shop", true)
	h.Namespace(t, "plain", false)
	client := pb.NewIdentityClient(h.Dial(t))
	live := time.Now().Add(10 * time.Minute)
	good := h.Pod(t, "shop", "payments-1", "payments", "10.88.0.5", nil)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)

	cases := []struct {
		name string
		req  func() *pb.IssueCertificateRequest
		want codes.Code
	}{
		{"no-csr", func() *pb.IssueCertificateRequest {
			return &pb.IssueCertificateRequest{Token: h.Token(good, identitytest.Audience, live)}
		}, codes.InvalidArgument},
		{"garbage-csr", func() *pb.IssueCertificateRequest {
			return &pb.IssueCertificateRequest{Csr: []byte("not a csr"), Token: h.Token(good, identitytest.Audience, live)}
		}, codes.InvalidArgument},
		{"rsa-key", func() *pb.IssueCertificateRequest {
			return &pb.IssueCertificateRequest{Csr: csr(t, rsaKey, nil), Token: h.Token(good, identitytest.Audience, live)}
		}, codes.InvalidArgument},
		{"ttl-below-minimum", func() *pb.IssueCertificateRequest {
			return &pb.IssueCertificateRequest{Csr: csr(t, p256(t), nil), Token: h.Token(good, identitytest.Audience, live), Ttl: durationpb.New(30 * time.Second)}
		}, codes.InvalidArgument},
		{"ttl-above-maximum", func() *pb.IssueCertificateRequest {
			return &pb.IssueCertificateRequest{Csr: csr(t, p256(t), nil), Token: h.Token(good, identitytest.Audience, live), Ttl: durationpb.New(2 * time.Hour)}
		}, codes.InvalidArgument},
		{"no-token", func() *pb.IssueCertificateRequest { return &pb.IssueCertificateRequest{Csr: csr(t, p256(t), nil)} }, codes.Unauthenticated},
		{"forged-token", func() *pb.IssueCertificateRequest {
			return &pb.IssueCertificateRequest{Csr: csr(t, p256(t), nil), Token: "eyJhbGciOiJub25lIn0.e30."}
		}, codes.Unauthenticated},
		{"token-for-another-audience", func() *pb.IssueCertificateRequest {
			return &pb.IssueCertificateRequest{Csr: csr(t, p256(t), nil), Token: h.Token(good, "https://kubernetes.default.svc", live)}
		}, codes.Unauthenticated},
		{"expired-token", func() *pb.IssueCertificateRequest {
			return &pb.IssueCertificateRequest{Csr: csr(t, p256(t), nil), Token: h.Token(good, identitytest.Audience, time.Now().Add(-time.Second))}
		}, codes.Unauthenticated},
		{"deleted-pod", func() *pb.IssueCertificateRequest {
			p := h.Pod(t, "shop", "gone-1", "payments", "10.88.0.6", nil)
			tok := h.Token(p, identitytest.Audience, live)
			h.Kube.CoreV1().Pods("shop").Delete(context.Background(), p.Name, metav1.DeleteOptions{})
			return &pb.IssueCertificateRequest{Csr: csr(t, p256(t), nil), Token: tok}
		}, codes.Unauthenticated},
		{"terminating-pod", func() *pb.IssueCertificateRequest {
			p := h.Pod(t, "shop", "stopping-1", "payments", "10.88.0.7", nil)
			p.DeletionTimestamp = &metav1.Time{Time: time.Now()}
			h.Kube.Tracker().Update(podsGVR, p, "shop")
			return &pb.IssueCertificateRequest{Csr: csr(t, p256(t), nil), Token: h.Token(p, identitytest.Audience, live)}
		}, codes.PermissionDenied},
		{"pod-not-meshed", func() *pb.IssueCertificateRequest {
			p := h.Pod(t, "plain", "web-1", "web", "10.88.0.8", nil)
			return &pb.IssueCertificateRequest{Csr: csr(t, p256(t), nil), Token: h.Token(p, identitytest.Audience, live)}
		}, codes.PermissionDenied},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := client.IssueCertificate(context.Background(), c.req())
			if got := status.Code(err); got != c.want || resp != nil {
				t.Fatalf("IssueCertificate = %v, %v; want %v and no certificate", resp, err, c.want)
			}
			if msg := status.Convert(err).Message(); msg == "" {
				t.Error("the refusal has no reason")
			}
			t.Logf("refused: %v", err)
		})
	}
	if n := strings.Count(h.Logs.String(), `"msg":"certificate refused"`); n != len(cases) {
		t.Errorf("%d refusals logged, want %d", n, len(cases))
	}
}
