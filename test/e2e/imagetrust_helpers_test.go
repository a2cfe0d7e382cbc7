//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	sigsig "github.com/sigstore/sigstore/pkg/signature"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
)

// trustRepo is where image-trust tests push their images: the local registry, under a prefix
// the tests' policies select.
const trustRepo = "127.0.0.1:5000/e2e-trust"

// downRegistry is a registry host the local cluster's controller may contact (see
// hack/cluster/install-outrider.sh) that tests serve themselves, to play a registry that hangs.
const downRegistry = "127.0.0.1:5999"

// bridgeGateway is the host's address on the pods' bridge, where the controller reaches the
// local registries (hack/cluster: BRIDGE_IP).
const bridgeGateway = "10.88.0.1"

// pushTrustImage copies the test image under trustRepo/<random>/<repo>:<tag>, with a config
// change so its digest is its own, and returns the digest reference. It runs like testImage.
func pushTrustImage(t *testing.T, repo, tag string) name.Digest {
	t.Helper()
	return pushTrustImageAt(t, fmt.Sprintf("%s/%s/%s", trustRepo, rand.String(6), repo), tag)
}

// pushTrustImageAt copies the test image to repository:tag with a config of its own.
func pushTrustImageAt(t *testing.T, repository, tag string) name.Digest {
	t.Helper()
	base, err := remote.Image(name.MustParseReference(testImage))
	if err != nil {
		t.Fatalf("reading %s: %v", testImage, err)
	}
	cfg, err := base.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.Config.Env = append(cfg.Config.Env, "OUTRIDER_E2E_IMAGE="+rand.String(12))
	img, err := mutate.ConfigFile(base, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(repository + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	h, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ref.Context().Digest(h.String())
}

// tagOf is the tag reference of a pushed image, as a workload would name it.
func tagOf(d name.Digest, tag string) string { return d.Context().Tag(tag).String() }

// signingKey is a key the tests sign with and its policy authority.
type signingKey struct {
	name   string
	signer sigsig.SignerVerifier
	pub    string
}

func newSigningKey(t *testing.T, authority string) signingKey {
	t.Helper()
	priv, pub, err := signature.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	s, err := signature.LoadPrivateKey(priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{name: authority, signer: s, pub: string(pub)}
}

func (k signingKey) sign(t *testing.T, d name.Digest) {
	t.Helper()
	if err := signature.Sign(context.Background(), d, k.signer); err != nil {
		t.Fatalf("signing %s: %v", d, err)
	}
}

func (k signingKey) attest(t *testing.T, d name.Digest, predicateType, predicate string) {
	t.Helper()
	if err := signature.Attest(context.Background(), d, k.signer, signature.PredicateTypeURI(predicateType), []byte(predicate)); err != nil {
		t.Fatalf("attesting %s: %v", d, err)
	}
}

func (k signingKey) authority() v1alpha1.Authority {
	return v1alpha1.Authority{Name: k.name, Key: &v1alpha1.KeyAuthority{PEM: k.pub}}
}

// signaturePolicy requires images under trustRepo to be signed by threshold of keys.
func signaturePolicy(threshold int, keys ...signingKey) v1alpha1.SecurityPolicySpec {
	rule := v1alpha1.SignatureRule{Images: []string{trustRepo + "/**"}, Threshold: threshold}
	for _, k := range keys {
		rule.Authorities = append(rule.Authorities, k.authority())
	}
	return v1alpha1.SecurityPolicySpec{Images: &v1alpha1.ImagePolicy{Signatures: []v1alpha1.SignatureRule{rule}}}
}

// podRunning is a restricted pod running image.
func podRunning(ns, name, image string) *corev1.Pod {
	p := newPod(ns, name, restrictedPodSpec())
	p.Spec.Containers[0].Image = image
	return p
}

// dryRunPod asks admission about a pod without creating it.
func dryRunPod(ctx context.Context, p *corev1.Pod) (*corev1.Pod, error) {
	return env.cs.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
}

// waitRefused waits until every controller replica refuses p (its policy is in force
// everywhere) and returns the refusal's message.
func waitRefused(t *testing.T, p *corev1.Pod, want string) string {
	t.Helper()
	var msg string
	consistently(t, 60*time.Second, 4, fmt.Sprintf("pod with %s refused (%s)", p.Spec.Containers[0].Image, want), func(ctx context.Context) (bool, error) {
		_, err := dryRunPod(ctx, p)
		if err == nil {
			return false, nil
		}
		msg = err.Error()
		return strings.Contains(msg, want), nil
	})
	return msg
}

// waitAdmitted waits until every replica admits p (dry run) and returns the admitted pod.
func waitAdmitted(t *testing.T, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	var got *corev1.Pod
	var last error
	consistently(t, 60*time.Second, 4, fmt.Sprintf("pod with %s admitted", p.Spec.Containers[0].Image), func(ctx context.Context) (bool, error) {
		got, last = dryRunPod(ctx, p)
		return last == nil, nil
	})
	if last != nil {
		t.Fatalf("refused: %v", last)
	}
	return got
}

// controllerMetric sums a counter over every controller replica's /metrics, for series whose
// labels contain every one of labels ("name=\"value\"").
func controllerMetric(t *testing.T, metric string, labels ...string) float64 {
	t.Helper()
	ctx := ctxFor(t, 20*time.Second)
	pods, err := env.cs.CoreV1().Pods(outriderNamespace).List(ctx, metav1.ListOptions{
		LabelSelector: metav1.FormatLabelSelector(env.controller.Spec.Selector),
	})
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning {
			continue
		}
		raw, err := env.cs.CoreV1().Pods(outriderNamespace).ProxyGet("http", p.Name, "8080", "/metrics", nil).DoRaw(ctx)
		if err != nil {
			t.Fatalf("reading metrics of %s: %v", p.Name, err)
		}
		total += sumSeries(string(raw), metric, labels)
	}
	return total
}

// sumSeries adds the values of metric's series in a Prometheus text exposition whose labels
// contain each of labels.
func sumSeries(text, metric string, labels []string) float64 {
	total := 0.0
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, metric+"{") && !strings.HasPrefix(line, metric+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if !ok {
			continue
		}
		var v float64
		if _, err := fmt.Sscanf(line[strings.LastIndexByte(line, ' ')+1:], "%g", &v); err == nil {
			total += v
		}
	}
	return total
}

// hangingRegistry accepts connections on the bridge gateway at downRegistry's port and never
// answers, like a registry that is down behind a load balancer.
func hangingRegistry(t *testing.T) {
	t.Helper()
	port := downRegistry[strings.LastIndexByte(downRegistry, ':')+1:]
	ln, err := net.Listen("tcp", bridgeGateway+":"+port)
	if err != nil {
		t.Fatalf("listening for the hanging registry: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
}

// imageDigest is the digest part of a pinned image reference, "" when it has none.
func imageDigest(image string) string {
	if _, d, ok := strings.Cut(image, "@"); ok {
		return d
	}
	return ""
}
