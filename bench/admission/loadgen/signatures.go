package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
)

// sigConfig is the signature scenario (--signatures): pods whose images a SecurityPolicy
// requires to be signed, first naming one image already verified (warm), then a new image
// each (cold), then a burst naming one new image, beside plain pods in the same namespace;
// and the cosign CLI and `outrider image verify` verifying the same signatures.
type sigConfig struct {
	// registry is where images are pushed, as pods name it (default 127.0.0.1:5000).
	registry string
	// warmRate and warmDuration: the plain and warm phases (50/s, 30s); warm-up --warmup.
	warmRate     int
	warmDuration time.Duration
	// coldRate, coldWarmup and coldDuration: the cold phase (20/s, 2s, 15s). It needs
	// coldRate*(coldWarmup+coldDuration) distinct signed images, pushed before it.
	coldRate                 int
	coldWarmup, coldDuration time.Duration
	// burst pods name one new image at once (50, sent within 50 ms); 0 skips the burst.
	burst int
	// peerImages is how many images the CLIs verify, one after another (20).
	peerImages int
	// cosign and outrider are the CLI binaries timed as peers; "" skips one.
	cosign, outrider string
	// pushWorkers push and sign images concurrently (8).
	pushWorkers int
}

var securityPolicies = schema.GroupVersionResource{Group: v1alpha1.GroupVersion.Group, Version: v1alpha1.GroupVersion.Version, Resource: "securitypolicies"}

// planned is how many requests load sends at rate over d.
func planned(rate int, d time.Duration) int { return int(float64(rate) * d.Seconds()) }

// runSignatures runs the signature scenario in a namespace of its own and returns its result.
func (b *bench) runSignatures(ctx context.Context, cfg sigConfig, suffix string, warmup time.Duration) (*sigResult, error) {
	res := &sigResult{cfg: cfg, warmup: warmup, plainImage: b.image}
	priv, pub, err := signature.GenerateKeyPair()
	if err != nil {
		return nil, err
	}
	signer, err := signature.LoadPrivateKey(priv, nil)
	if err != nil {
		return nil, err
	}
	res.pubPEM = pub

	// Images: one for the warm phase, one for the burst, one never signed (the probe), and a
	// new one for every request of the cold phase.
	res.repo = fmt.Sprintf("%s/bench-signed/%s/app", cfg.registry, suffix)
	nCold := planned(cfg.coldRate, cfg.coldWarmup) + planned(cfg.coldRate, cfg.coldDuration)
	tags := []string{"warm", "burst"}
	for i := range nCold {
		tags = append(tags, coldTag(i))
	}
	logf("signatures: pushing and signing %d images to %s (%d at a time)", len(tags)+1, res.repo, cfg.pushWorkers)
	t0 := time.Now()
	digests, err := pushImages(ctx, b.image, res.repo, tags, signer, cfg.pushWorkers)
	if err != nil {
		return nil, err
	}
	unsigned, err := pushImages(ctx, b.image, res.repo, []string{"unsigned"}, nil, 1)
	if err != nil {
		return nil, err
	}
	res.pushed, res.pushTook = len(tags)+1, time.Since(t0)
	res.digests = digests
	logf("signatures: %d images pushed and signed in %s", res.pushed, res.pushTook.Round(time.Millisecond))

	ns := "bench-admission-sig-" + suffix
	if err := createNamespace(ctx, b.cs, ns); err != nil {
		return nil, err
	}
	defer deleteNamespace(b.cs, ns)
	res.namespace = ns
	if err := b.createSignaturePolicy(ctx, ns, cfg.registry+"/bench-signed/**", pub); err != nil {
		return nil, err
	}
	if err := b.probeSignatures(ctx, ns, res, unsigned["unsigned"]); err != nil {
		return nil, err
	}
	logf("signatures: namespace %s, policy in force on every replica", ns)

	// plain: no signature rule applies (the image is outside bench-signed/), the same load as
	// warm, side by side; warm: one image, verified by the probe and the warm-up.
	none := 0.0
	steps := []sigStep{
		{"plain", cfg.warmRate, warmup, cfg.warmDuration, oneImage(b.image, none)},
		{"warm", cfg.warmRate, warmup, cfg.warmDuration, oneImage(res.repo+":warm", none)},
		{"cold", cfg.coldRate, cfg.coldWarmup, cfg.coldDuration, podMix{image: func(i int) string {
			return fmt.Sprintf("%s:%s", res.repo, coldTag(min(i, nCold-1)))
		}}},
	}
	if cfg.burst > 0 {
		// All at once: 1000/s for as many milliseconds as there are pods.
		steps = append(steps, sigStep{"burst", 1000, 0, time.Duration(cfg.burst) * time.Millisecond, oneImage(res.repo+":burst", none)})
	}
	for _, s := range steps {
		p, err := b.phase(ctx, s.mode, ns, s.rate, s.warmup, s.d, true, s.mix)
		if err != nil {
			return nil, err
		}
		res.add(p)
		logf("%s; registry requests %.0f, cache %s", p.oneLine(), p.registry.sum("", ""), p.cache)
	}

	// The peers verify the first images of the cold window, one after another.
	first := planned(cfg.coldRate, cfg.coldWarmup)
	var refs []string
	for i := first; i < first+cfg.peerImages && i < nCold; i++ {
		refs = append(refs, digests[coldTag(i)].String())
	}
	res.peers, err = timePeers(ctx, cfg, pub, refs)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// sigStep is one phase of the signature scenario.
type sigStep struct {
	mode      string
	rate      int
	warmup, d time.Duration
	mix       podMix
}

func coldTag(i int) string { return fmt.Sprintf("cold-%05d", i) }

// createSignaturePolicy requires images matching pattern to be signed by the key pub.
func (b *bench) createSignaturePolicy(ctx context.Context, ns, pattern string, pub []byte) error {
	p := &v1alpha1.SecurityPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "SecurityPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: "bench-signed", Namespace: ns},
		Spec: v1alpha1.SecurityPolicySpec{Images: &v1alpha1.ImagePolicy{Signatures: []v1alpha1.SignatureRule{{
			Images:      []string{pattern},
			Authorities: []v1alpha1.Authority{{Name: "bench", Key: &v1alpha1.KeyAuthority{PEM: string(pub)}}},
		}}}},
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(p)
	if err != nil {
		return err
	}
	if _, err := b.dyn.Resource(securityPolicies).Namespace(ns).Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating SecurityPolicy %s/bench-signed: %w", ns, err)
	}
	var msg string
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		u, err := b.dyn.Resource(securityPolicies).Namespace(ns).Get(ctx, "bench-signed", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		ready, _, _ := unstructured.NestedBool(u.Object, "status", "ready")
		gen, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
		msg, _, _ = unstructured.NestedString(u.Object, "status", "message")
		return ready && gen == u.GetGeneration(), nil
	})
	if err != nil {
		return fmt.Errorf("SecurityPolicy %s/bench-signed not ready (%q): %w", ns, msg, err)
	}
	return nil
}

// probeSignatures waits until the policy is in force on every replica — a pod naming the
// unsigned image is refused for image.signature several times in a row — and checks that a pod
// naming the signed warm image is admitted with its tag pinned to the signed digest.
func (b *bench) probeSignatures(ctx context.Context, ns string, res *sigResult, unsigned name.Digest) error {
	create := func(ctx context.Context, image, podName string) (*corev1.Pod, error) {
		pod := compliantPod(image)
		pod.Name = podName
		return b.cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	}
	inARow, last := 0, ""
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := create(ctx, res.repo+":unsigned", "bench-probe-unsigned")
		if err != nil && strings.Contains(err.Error(), "image.signature") {
			inARow, last = inARow+1, err.Error()
		} else {
			inARow, last = 0, fmt.Sprint(err)
		}
		return inARow >= 8, nil
	})
	if err != nil {
		return fmt.Errorf("a pod naming the unsigned image %s was not refused for image.signature (last answer: %s): %w", unsigned, last, err)
	}
	res.refusal = last
	pod, err := create(ctx, res.repo+":warm", "bench-probe-signed")
	if err != nil {
		return fmt.Errorf("a pod naming the signed image %s:warm was refused: %w", res.repo, err)
	}
	want := res.repo + ":warm@" + res.digests["warm"].DigestStr()
	if got := pod.Spec.Containers[0].Image; got != want {
		return fmt.Errorf("the signed image was admitted as %q, not pinned to its digest %q", got, want)
	}
	res.pinnedAs = want
	return nil
}
