//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
	"github.com/outrider-sec/outrider/internal/imagetrust/signature/sigtest"
)

// TestSignedImageAdmittedAndPinned: a signed image runs, pinned to the digest that was signed;
// an unsigned one and one signed by a key the policy does not trust are refused.
func TestSignedImageAdmittedAndPinned(t *testing.T) {
	ns := newNamespace(t, "signed", nil)
	ci, stranger := newSigningKey(t, "ci"), newSigningKey(t, "stranger")
	createSecurityPolicy(t, ns, "signed-images", signaturePolicy(1, ci))

	signed := pushTrustImage(t, "api", "v1")
	ci.sign(t, signed)
	unsigned := pushTrustImage(t, "api", "v1")
	byStranger := pushTrustImage(t, "api", "v1")
	stranger.sign(t, byStranger)

	msg := waitRefused(t, podRunning(ns, "unsigned", tagOf(unsigned, "v1")), "image.signature")
	for _, want := range []string{"is not signed by ci", unsigned.DigestStr()[:19]} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal of the unsigned image does not say %q:\n%s", want, msg)
		}
	}
	msg = waitRefused(t, podRunning(ns, "stranger", tagOf(byStranger, "v1")), "image.signature")
	if !strings.Contains(msg, "not signed by any trusted authority") {
		t.Errorf("refusal of the image signed by an unknown key does not say why:\n%s", msg)
	}

	ctx := ctxFor(t, 2*time.Minute)
	pod, err := env.cs.CoreV1().Pods(ns).Create(ctx, podRunning(ns, "signed", tagOf(signed, "v1")), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("the signed image was refused: %v", err)
	}
	if want := tagOf(signed, "v1") + "@" + signed.DigestStr(); pod.Spec.Containers[0].Image != want {
		t.Fatalf("admitted image is %q, want it pinned: %q", pod.Spec.Containers[0].Image, want)
	}
	ready := waitPodReady(t, ns, "signed", 2*time.Minute)
	if got := ready.Status.ContainerStatuses[0].ImageID; !strings.HasSuffix(got, signed.DigestStr()) {
		t.Errorf("the container runs %q, not the signed digest %s", got, signed.DigestStr())
	}
}

// TestTagMovedAfterSigningCannotSwapTheCode is DESIGN invariant 3: once admitted, a workload
// runs the digest its tag named at admission, so pushing other code under the tag later
// changes nothing, and naming that other code by digest is refused.
func TestTagMovedAfterSigningCannotSwapTheCode(t *testing.T) {
	ns := newNamespace(t, "moved", nil)
	ci := newSigningKey(t, "ci")
	createSecurityPolicy(t, ns, "signed-images", signaturePolicy(1, ci))
	signed := pushTrustImage(t, "api", "prod")
	ci.sign(t, signed)
	waitAdmitted(t, podRunning(ns, "probe", tagOf(signed, "prod")))

	ctx := ctxFor(t, 3*time.Minute)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
			Template: podTemplate("api", podRunning(ns, "x", tagOf(signed, "prod")).Spec),
		},
	}
	created, err := env.cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("the signed Deployment was refused: %v", err)
	}
	if got := imageDigest(created.Spec.Template.Spec.Containers[0].Image); got != signed.DigestStr() {
		t.Fatalf("the Deployment's template is not pinned to the signed digest: %q", created.Spec.Template.Spec.Containers[0].Image)
	}

	// The attack: other code is pushed under the same tag after admission.
	swapped := pushTrustImageAt(t, signed.Context().String(), "prod")
	if _, err := env.cs.AppsV1().Deployments(ns).UpdateScale(ctx, "api", autoscalingScale{ns: ns, name: "api", replicas: 2}.scale(), metav1.UpdateOptions{}); err != nil {
		t.Fatalf("scaling up: %v", err)
	}
	eventually(t, 2*time.Minute, time.Second, "2 pods of the Deployment ready, all on the signed digest", func(ctx context.Context) (bool, error) {
		pods, err := env.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=api"})
		if err != nil {
			return false, err
		}
		ready := 0
		for _, p := range pods.Items {
			if got := imageDigest(p.Spec.Containers[0].Image); got != signed.DigestStr() {
				return false, fmt.Errorf("pod %s runs %q after the tag moved", p.Name, p.Spec.Containers[0].Image)
			}
			for _, s := range p.Status.ContainerStatuses {
				if s.Ready && strings.HasSuffix(s.ImageID, signed.DigestStr()) {
					ready++
				}
			}
		}
		return ready == 2, nil
	})
	msg := waitRefused(t, podRunning(ns, "swapped", swapped.String()), "image.signature")
	if !strings.Contains(msg, "is not signed by ci") {
		t.Errorf("the re-pushed code was refused for the wrong reason:\n%s", msg)
	}
}

// autoscalingScale builds a Scale for UpdateScale.
type autoscalingScale struct {
	ns, name string
	replicas int32
}

func (a autoscalingScale) scale() *autoscalingv1.Scale {
	return &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: a.name, Namespace: a.ns},
		Spec:       autoscalingv1.ScaleSpec{Replicas: a.replicas},
	}
}

// TestTwoOfThreeSignatures: a threshold counts different authorities.
func TestTwoOfThreeSignatures(t *testing.T) {
	ns := newNamespace(t, "threshold", nil)
	k1, k2, k3 := newSigningKey(t, "build"), newSigningKey(t, "qa"), newSigningKey(t, "release")
	createSecurityPolicy(t, ns, "two-of-three", signaturePolicy(2, k1, k2, k3))

	one := pushTrustImage(t, "api", "v1")
	k1.sign(t, one)
	k1.sign(t, one) // the same authority twice is still one
	two := pushTrustImage(t, "api", "v1")
	k1.sign(t, two)
	k3.sign(t, two)

	msg := waitRefused(t, podRunning(ns, "one", tagOf(one, "v1")), "image.signature")
	if !strings.Contains(msg, "is signed by 1 of the 2 authorities required (build); missing: qa, release") {
		t.Errorf("refusal does not count the authorities:\n%s", msg)
	}
	waitAdmitted(t, podRunning(ns, "two", tagOf(two, "v1")))
}

// TestKeylessIdentityMustMatchIssuerAndSubject: a certificate from the trusted CA is not
// enough; it must name the pipeline's identity, from the right issuer.
func TestKeylessIdentityMustMatchIssuerAndSubject(t *testing.T) {
	ns := newNamespace(t, "keyless", nil)
	ca, err := sigtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	tlog, err := sigtest.NewLog()
	if err != nil {
		t.Fatal(err)
	}
	const issuer = "https://token.ci.acme.example"
	const subject = "https://git.acme.example/acme/api/.ci/release.yml@refs/heads/main"
	createSecurityPolicy(t, ns, "keyless", v1alpha1.SecurityPolicySpec{Images: &v1alpha1.ImagePolicy{
		Signatures: []v1alpha1.SignatureRule{{
			Images: []string{trustRepo + "/**"},
			Authorities: []v1alpha1.Authority{{Name: "release-pipeline", Keyless: &v1alpha1.KeylessAuthority{
				Issuer: issuer, Subject: subject, Roots: string(ca.RootPEM), TransparencyLogKey: string(tlog.PublicKeyPEM),
			}}},
		}},
	}})
	signAs := func(subject, issuer string) string {
		t.Helper()
		s, err := ca.Issue(subject, issuer, time.Now().Add(-time.Minute), time.Now().Add(10*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		img := pushTrustImage(t, "api", "v1")
		if err := signature.Sign(context.Background(), img, &sigtest.LoggedSigner{Signer: s, Log: tlog}); err != nil {
			t.Fatal(err)
		}
		return tagOf(img, "v1")
	}
	waitAdmitted(t, podRunning(ns, "right", signAs(subject, issuer)))
	for name, image := range map[string]string{
		"wrong-subject": signAs("https://git.acme.example/someone/fork/.ci/release.yml@refs/heads/main", issuer),
		"wrong-issuer":  signAs(subject, "https://token.evil.example"),
	} {
		msg := waitRefused(t, podRunning(ns, name, image), "image.signature")
		if !strings.Contains(msg, "release-pipeline") {
			t.Errorf("%s: refusal does not name the authority:\n%s", name, msg)
		}
	}
}

// vulnPredicate is a cosign vulnerability predicate with one finding, scanned at when.
func vulnPredicate(cve, severity string, when time.Time) string {
	ts := when.UTC().Format(time.RFC3339)
	return `{"scanner":{"uri":"pkg:github/aquasecurity/trivy@0.57.1","version":"0.57.1","result":` +
		`{"SchemaVersion":2,"ArtifactName":"api","Results":[{"Target":"api","Vulnerabilities":[{"VulnerabilityID":"` + cve +
		`","PkgName":"openssl","InstalledVersion":"3.0.1","FixedVersion":"3.0.2","Severity":"` + severity + `"}]}]}},` +
		`"metadata":{"scanStartedOn":"` + ts + `","scanFinishedOn":"` + ts + `"}}`
}

// vulnPolicy requires signatures by ci and gates on ci's vulnerability attestations; mode is
// Enforce or Audit.
func vulnPolicy(mode v1alpha1.PolicyMode, ci signingKey) v1alpha1.SecurityPolicySpec {
	spec := signaturePolicy(1, ci)
	spec.Mode = mode
	spec.Images.Vulnerabilities = &v1alpha1.VulnerabilityPolicy{FailOn: "high", MaxReportAge: "168h"}
	return spec
}

// TestVulnerabilityGateOnAttestedReports: a signed report over the threshold refuses the
// image; a VEX not_affected statement for it admits the same report; a stale one refuses.
func TestVulnerabilityGateOnAttestedReports(t *testing.T) {
	ns := newNamespace(t, "vulns", nil)
	ci := newSigningKey(t, "ci")
	createSecurityPolicy(t, ns, "vulns", vulnPolicy(v1alpha1.ModeEnforce, ci))
	cve := "CVE-2026-" + fmt.Sprint(10000+time.Now().UnixNano()%80000)

	critical := pushTrustImage(t, "api", "v1")
	ci.sign(t, critical)
	ci.attest(t, critical, "vuln", vulnPredicate(cve, "CRITICAL", time.Now().Add(-time.Hour)))
	stale := pushTrustImage(t, "api", "v1")
	ci.sign(t, stale)
	ci.attest(t, stale, "vuln", vulnPredicate("CVE-2026-0002", "LOW", time.Now().Add(-30*24*time.Hour)))
	vexed := pushTrustImage(t, "api", "v1")
	ci.sign(t, vexed)
	ci.attest(t, vexed, "vuln", vulnPredicate(cve, "CRITICAL", time.Now().Add(-time.Hour)))

	msg := waitRefused(t, podRunning(ns, "critical", tagOf(critical, "v1")), "image.vulnerabilities")
	if !strings.Contains(msg, cve+" (critical") {
		t.Errorf("refusal does not name the vulnerability:\n%s", msg)
	}
	msg = waitRefused(t, podRunning(ns, "stale", tagOf(stale, "v1")), "image.reportAge")
	if !strings.Contains(msg, "older than maxReportAge 168h") {
		t.Errorf("refusal does not say the report is stale:\n%s", msg)
	}
	waitRefused(t, podRunning(ns, "vexed", tagOf(vexed, "v1")), "image.vulnerabilities")

	// The vendor says the vulnerable code is not reachable in this image.
	vexDoc := fmt.Sprintf(`{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://vex.acme.example/%s","author":"security@acme.example",
"timestamp":%q,"version":1,"statements":[{"vulnerability":{"name":%q},"products":[{"@id":%q}],
"status":"not_affected","justification":"vulnerable_code_not_in_execute_path"}]}`,
		ns, time.Now().UTC().Format(time.RFC3339), cve, vexed.DigestStr())
	ctx := ctxFor(t, 30*time.Second)
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-vex", Namespace: outriderNamespace, Labels: map[string]string{"security.outrider.dev/vex": "true"}},
		Data:       map[string]string{"api.openvex.json": vexDoc},
	}
	if _, err := env.cs.CoreV1().ConfigMaps(outriderNamespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := env.cs.CoreV1().ConfigMaps(outriderNamespace).Delete(ctx, cm.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("RESTORE FAILED: delete configmap %s/%s by hand: %v", outriderNamespace, cm.Name, err)
		}
	})
	waitAdmitted(t, podRunning(ns, "vexed", tagOf(vexed, "v1")))
	// The statement names the vexed digest only: the other image with the same report stays out.
	waitRefused(t, podRunning(ns, "critical", tagOf(critical, "v1")), "image.vulnerabilities")
}

// TestNewReportForRunningImageIsReported: vulnerabilities are published after deployment; the
// audit reads the new attestation and records it, without touching the running pod.
func TestNewReportForRunningImageIsReported(t *testing.T) {
	ns := newNamespace(t, "newvuln", nil)
	ci := newSigningKey(t, "ci")
	createSecurityPolicy(t, ns, "vulns", vulnPolicy(v1alpha1.ModeAudit, ci))
	img := pushTrustImage(t, "api", "v1")
	ci.sign(t, img)
	ci.attest(t, img, "vuln", vulnPredicate("CVE-2026-0100", "LOW", time.Now().Add(-time.Hour)))

	ctx := ctxFor(t, 4*time.Minute)
	if _, err := env.cs.CoreV1().Pods(ns).Create(ctx, podRunning(ns, "api", tagOf(img, "v1")), metav1.CreateOptions{}); err != nil {
		t.Fatalf("the clean image was refused: %v", err)
	}
	waitPodReady(t, ns, "api", 2*time.Minute)

	ci.attest(t, img, "vuln", vulnPredicate("CVE-2026-0101", "CRITICAL", time.Now()))
	eventually(t, 3*time.Minute, 2*time.Second, "PolicyReport entry for the new vulnerability", func(ctx context.Context) (bool, error) {
		r, err := env.dyn.Resource(policyReportGVR).Namespace(ns).Get(ctx, "outrider-audit", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		results, _, _ := unstructured.NestedSlice(r.Object, "results")
		for _, res := range results {
			m, _ := res.(map[string]any)
			if m["rule"] == "image.vulnerabilities" && m["result"] == "fail" && strings.Contains(fmt.Sprint(m["message"]), "CVE-2026-0101") {
				return true, nil
			}
		}
		return false, nil
	})
	events, err := env.cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "reason=ImageTrustViolation"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range events.Items {
		found = found || (e.InvolvedObject.Name == "api" && strings.Contains(e.Message, "CVE-2026-0101"))
	}
	if !found {
		t.Errorf("no ImageTrustViolation Event on pod api names CVE-2026-0101")
	}
	if p, err := env.cs.CoreV1().Pods(ns).Get(ctx, "api", metav1.GetOptions{}); err != nil || p.DeletionTimestamp != nil {
		t.Errorf("the running pod was touched: %v", err)
	}
}

// TestFiftyReplicasMakeOneVerification: the cache and singleflight make a Deployment of 50
// replicas cost one registry verification per controller replica at most.
func TestFiftyReplicasMakeOneVerification(t *testing.T) {
	ns := newNamespace(t, "fifty", nil)
	ci := newSigningKey(t, "ci")
	createSecurityPolicy(t, ns, "signed-images", signaturePolicy(1, ci))
	img := pushTrustImage(t, "api", "v1")
	ci.sign(t, img)
	waitRefused(t, podRunning(ns, "probe", tagOf(pushTrustImage(t, "api", "v1"), "v1")), "image.signature")

	before := controllerMetric(t, "outrider_registry_requests_total", `operation="manifest_get"`)
	replicas := controllerReplicas(t)
	ctx := ctxFor(t, 3*time.Minute)
	spec := podRunning(ns, "x", tagOf(img, "v1")).Spec
	spec.Containers[0].Resources.Requests = corev1.ResourceList{} // 50 pods on one small node
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](50),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
			Template: podTemplate("api", spec),
		},
	}
	if _, err := env.cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("the signed Deployment was refused: %v", err)
	}
	eventually(t, 2*time.Minute, time.Second, "50 pods created", func(ctx context.Context) (bool, error) {
		pods, err := env.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=api"})
		return err == nil && len(pods.Items) == 50, err
	})
	// Stop the pods before they load the node; admission is what is measured.
	if _, err := env.cs.AppsV1().Deployments(ns).UpdateScale(ctx, "api", autoscalingScale{ns: ns, name: "api", replicas: 0}.scale(), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A verification reads the .sig manifest (the .att and referrers lookups are manifest GETs
	// too): count manifest GETs for this image's repository.
	after := controllerMetric(t, "outrider_registry_requests_total", `operation="manifest_get"`)
	t.Logf("manifest GETs for 1 Deployment + 50 pods: %.0f (controller replicas: %d)", after-before, replicas)
	if perVerification := 3.0; after-before > perVerification*float64(replicas) {
		t.Errorf("%.0f manifest GETs for one Deployment of 50 replicas; want at most one verification (%.0f GETs) per controller replica (%d)",
			after-before, perVerification, replicas)
	}
}

func controllerReplicas(t *testing.T) int {
	t.Helper()
	d, err := env.cs.AppsV1().Deployments(outriderNamespace).Get(ctxFor(t, 10*time.Second), env.controller.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return int(d.Status.ReadyReplicas)
}

// TestRegistryDownGivesTheConfiguredVerdictInTime: a registry that hangs costs the registry
// timeout, not the webhook's, and the policy's onRegistryError decides: Deny refuses naming the
// registry and the image, Allow admits with a warning.
func TestRegistryDownGivesTheConfiguredVerdictInTime(t *testing.T) {
	hangingRegistry(t)
	ci := newSigningKey(t, "ci")
	for _, c := range []struct {
		action v1alpha1.RegistryErrorAction
		admit  bool
	}{{v1alpha1.RegistryErrorDeny, false}, {v1alpha1.RegistryErrorAllow, true}} {
		t.Run(string(c.action), func(t *testing.T) {
			ns := newNamespace(t, "down-"+strings.ToLower(string(c.action)), nil)
			// Named by digest, so only the validating webhook asks the registry (a tag would cost
			// the mutating webhook's resolution too: each webhook has its own 5s). Its own
			// repository, so no cached error answers first.
			image := downRegistry + "/acme/" + ns + "@sha256:" + strings.Repeat("ab", 32)
			spec := signaturePolicy(1, ci)
			spec.Images.Signatures[0].Images = []string{downRegistry + "/**"}
			spec.Images.OnRegistryError = c.action
			createSecurityPolicy(t, ns, "signed", spec)
			cs, warns := clientWithWarnings(t)
			var slowest time.Duration
			var err error
			var mu sync.Mutex
			// The first asks of each replica wait for the registry's timeout (2s); later ones
			// meet the cached error (10s). Every one must come well inside the webhook's 5s.
			consistently(t, 90*time.Second, 2, "verdict with the registry down", func(ctx context.Context) (bool, error) {
				start := time.Now()
				_, e := cs.CoreV1().Pods(ns).Create(ctx, podRunning(ns, "api", image), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
				mu.Lock()
				defer mu.Unlock()
				slowest, err = max(slowest, time.Since(start)), e
				if c.admit {
					return e == nil, nil
				}
				return e != nil && strings.Contains(e.Error(), "image.signature"), nil
			})
			t.Logf("slowest verdict: %s", slowest.Round(time.Millisecond))
			if slowest < 1500*time.Millisecond || slowest > 4500*time.Millisecond {
				t.Errorf("the slowest verdict took %s: want the registry timeout (2s), well inside the webhook's 5s", slowest)
			}
			if !c.admit {
				for _, want := range []string{"127.0.0.1:5999", image} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("refusal does not name %q:\n%v", want, err)
					}
				}
				return
			}
			if !hasWarning(warns.all(), "onRegistryError is Allow") {
				t.Errorf("admitted without the warning; warnings:\n%s", strings.Join(warns.all(), "\n"))
			}
		})
	}
}
