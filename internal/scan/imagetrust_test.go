package scan

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/outrider-sec/outrider/internal/imagetrust"
	imgregistry "github.com/outrider-sec/outrider/internal/imagetrust/registry"
	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
	"github.com/outrider-sec/outrider/internal/policy"
)

// TestScanVerifiesSignaturesLikeAdmission: with a signature policy, scan reads the registry
// the way the controller does; offline, what it could not verify fails.
func TestScanVerifiesSignaturesLikeAdmission(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	push := func(tag string) name.Digest {
		img, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := name.NewTag(host + "/app:" + tag)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		h, _ := img.Digest()
		return ref.Context().Digest(h.String())
	}
	priv, pub, err := signature.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signature.LoadPrivateKey(priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	signed := push("signed")
	if err := signature.Sign(context.Background(), signed, signer); err != nil {
		t.Fatal(err)
	}
	push("unsigned")

	dir := t.TempDir()
	manifest := ""
	for _, tag := range []string{"signed", "unsigned"} {
		manifest += fmt.Sprintf(`---
apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  automountServiceAccountToken: false
  securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: app
    image: %s/app:%s
    resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {memory: 32Mi}}
    securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
`, tag, host, tag)
	}
	writeFile(t, filepath.Join(dir, "pods.yaml"), manifest)
	policyDoc := fmt.Sprintf(`apiVersion: security.outrider.dev/v1alpha1
kind: ClusterSecurityPolicy
metadata: {name: signed}
spec:
  images:
    signatures:
    - images: ["%s/**"]
      authorities:
      - name: ci
        key:
          pem: |
%s
`, host, "            "+strings.ReplaceAll(strings.TrimSpace(string(pub)), "\n", "\n            "))
	ps, err := policy.ParsePolicies("signed.yaml", []byte(policyDoc), "default")
	if err != nil {
		t.Fatal(err)
	}
	online := imagetrust.NewVerifier(imagetrust.Config{Client: imgregistry.New(imgregistry.Options{})})
	for _, c := range []struct {
		name     string
		registry *imagetrust.Verifier
		want     map[string]string // pod → substring of its image.signature finding ("" for none)
	}{
		{"online", online, map[string]string{"signed": "", "unsigned": "is not signed by ci"}},
		{"offline", nil, map[string]string{"signed": "nothing was read from its registry", "unsigned": "nothing was read from its registry"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := Run(context.Background(), Options{Paths: []string{dir}, Policies: ps, Registry: c.registry})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{"signed": "", "unsigned": ""}
			for _, f := range res.Findings {
				if f.Check == "image.signature" {
					got[f.Resource.Name] = f.Message
				}
			}
			for pod, want := range c.want {
				if (want == "") != (got[pod] == "") || !strings.Contains(got[pod], want) {
					t.Errorf("pod %s: image.signature %q, want %q", pod, got[pod], want)
				}
			}
		})
	}
}
