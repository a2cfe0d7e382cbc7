//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/outrider-sec/outrider/internal/mesh/inject"
)

// captureProbe runs in the pod's main container as the application would (UID 65532, no
// capabilities) and reports what the pod's network does, one "name: result" line each:
//
//	outbound:   its TCP to the registry on the bridge gateway (10.88.0.1:5000) is "redirected"
//	            to the outbound port (a stand-in proxy listening on 15001 receives the request),
//	            or goes "direct" (the registry answers), or "failed".
//	proxy-port: its own connection to 127.0.0.1:15001, where the stand-in listens, is "refused"
//	            (capture's filter rule resets it) or "reached".
//
// busybox's wget crashes on this machine; nc does the job. busybox nc exits as soon as the
// other side closes, and a listener whose stdin is at EOF closes its side at once, so a
// listener reading /dev/null could close before the client has sent anything: the listeners
// read from a sleep instead. The probe always exits 0: the test judges.
const captureProbe = `
cd /tmp
sleep 30 | nc -l -p 15001 >listener1 2>&1 &
l=$!
sleep 1
printf 'GET /v2/ HTTP/1.0\r\n\r\n' | timeout 10 nc -w 5 10.88.0.1 5000 >client1 2>&1
rc=$?
kill $l 2>/dev/null
if grep -q 'GET /v2/' listener1; then echo "outbound: redirected"
elif grep -q '^HTTP/1' client1; then echo "outbound: direct"
else echo "outbound: failed (nc exit $rc: $(head -c 200 client1))"; fi

sleep 30 | nc -l -p 15001 >listener2 2>&1 &
l=$!
sleep 1
echo hello-proxy | timeout 10 nc -w 5 127.0.0.1 15001 >client2 2>&1
rc=$?
kill $l 2>/dev/null
if grep -q hello-proxy listener2; then echo "proxy-port: reached"
elif [ $rc -ne 0 ]; then echo "proxy-port: refused ($(head -c 200 client2))"
else echo "proxy-port: unknown (nc exit 0, nothing received)"; fi
`

// TestCaptureInitContainerProgramsThePod runs `outrider capture` from the Outrider image the
// controller runs, as the mesh injector's init container template makes it (its arguments;
// root, capabilities drop ALL add NET_ADMIN and NET_RAW, no privilege escalation, read-only
// root filesystem, RuntimeDefault seccomp, an emptyDir on /run), in real pods of the cluster:
// with the default backend (nf_tables) and with --backend legacy. A second init container, `outrider capture --verify-only` (a new process
// reading the rules back and auto-detecting the backend), must find exactly the rules of both
// families; then the application container must see its outbound TCP redirected to the proxy's
// port and its own connections to that port refused. A pod without the init containers runs
// the same probe and must see the opposite, so the probe cannot pass for a reason other than
// the rules. This proves the image carries working iptables commands for both backends.
//
// The pods run in a throwaway namespace outside the mesh (not labelled
// security.outrider.dev/mesh) and excluded from the default policy, which would refuse root
// containers that add NET_ADMIN there; the test therefore does not run in parallel with others.
func TestCaptureInitContainerProgramsThePod(t *testing.T) {
	image := outriderImage(t)
	t.Logf("outrider image: %s", image)
	ns := newNamespace(t, "capture", nil)
	excludeFromDefaultPolicy(t, ns)

	cases := []struct {
		name    string
		args    []string // added to the capture container's
		backend string   // what capture and verify must report; "" for the pod without capture
	}{
		{name: "default-backend", backend: "nft"},
		{name: "legacy-backend", args: []string{"--backend=legacy"}, backend: "legacy"},
		{name: "without-capture"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pod := capturePod(t, ns, tc.name, image, tc.backend != "", tc.args)
			ctx := ctxFor(t, 3*time.Minute)
			if _, err := env.cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				t.Fatalf("creating pod %s/%s: %v", ns, pod.Name, err)
			}
			done := waitPodDone(t, ns, pod.Name, 2*time.Minute)
			logs := map[string]string{}
			for _, c := range append(slices.Clone(done.Spec.InitContainers), done.Spec.Containers...) {
				logs[c.Name] = podLogs(ctx, ns, pod.Name, c.Name)
			}
			if done.Status.Phase != corev1.PodSucceeded {
				t.Fatalf("pod %s ended %s:\n%s", pod.Name, done.Status.Phase, describeContainers(done, logs))
			}

			if tc.backend != "" {
				installed := logs[inject.CaptureContainer]
				if !strings.Contains(installed, "capture rules installed and verified") ||
					!strings.Contains(installed, "IPv4 and IPv6, "+tc.backend+" backend") {
					t.Errorf("capture did not report the %s backend for IPv4 and IPv6:\n%s", tc.backend, installed)
				}
				verified := logs["verify"]
				if !strings.Contains(verified, "capture rules verified") ||
					!strings.Contains(verified, "IPv4 and IPv6, "+tc.backend+" backend") {
					t.Errorf("capture --verify-only did not find the %s rules of both families:\n%s", tc.backend, verified)
				}
			}

			probe := logs["probe"]
			t.Logf("probe:\n%s", strings.TrimSpace(probe))
			want := map[string]string{"outbound": "redirected", "proxy-port": "refused"}
			if tc.backend == "" {
				want = map[string]string{"outbound": "direct", "proxy-port": "reached"}
			}
			for what, result := range want {
				if got := probeResult(probe, what); got != result {
					t.Errorf("%s: got %q, want %q (full line: %q)", what, got, result, probeLine(probe, what))
				}
			}
		})
	}
}

// outriderImage is the image the controller runs: the one the injector puts in meshed pods.
func outriderImage(t *testing.T) string {
	t.Helper()
	for _, c := range env.controller.Spec.Template.Spec.Containers {
		if strings.Contains(c.Image, "/outrider") {
			return c.Image
		}
	}
	t.Fatalf("no outrider image in deployment %s/%s", env.controller.Namespace, env.controller.Name)
	return ""
}

// capturePod is a pod whose init containers, if withCapture, are the injector's capture
// container (with extraArgs) and the same container running --verify-only; its main container
// runs captureProbe.
func capturePod(t *testing.T, ns, name, image string, withCapture bool, extraArgs []string) *corev1.Pod {
	t.Helper()
	probe := restrictedContainer("probe")
	probe.Command = []string{"sh", "-c", captureProbe}
	probe.SecurityContext.RunAsUser = ptr.To[int64](65532)
	probe.SecurityContext.RunAsGroup = ptr.To[int64](65532)
	probe.SecurityContext.RunAsNonRoot = ptr.To(true)
	probe.VolumeMounts = []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}}
	spec := corev1.PodSpec{
		RestartPolicy:                 corev1.RestartPolicyNever,
		AutomountServiceAccountToken:  ptr.To(false),
		TerminationGracePeriodSeconds: ptr.To[int64](2),
		SecurityContext:               &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
		Containers:                    []corev1.Container{probe},
		Volumes:                       []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
	}
	if withCapture {
		capture, vols := injectedCapture(t, image)
		capture.Args = append(capture.Args, extraArgs...)
		verify := *capture.DeepCopy()
		verify.Name = "verify"
		verify.Args = append(verify.Args, "--verify-only")
		spec.InitContainers = []corev1.Container{capture, verify}
		spec.Volumes = append(spec.Volumes, vols...)
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "capture-e2e"}}, Spec: spec}
}

// injectedCapture returns the capture init container exactly as the mesh injector makes it
// for image, with the volumes it mounts (the emptyDir on /run).
func injectedCapture(t *testing.T, image string) (corev1.Container, []corev1.Volume) {
	t.Helper()
	cfg := inject.Config{Image: image, IdentityAddress: "unused.invalid:1", IdentityID: "spiffe://unused.invalid/identity", BundleConfigMap: "unused"}
	injected, _ := cfg.Inject(&corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: testImage}}})
	i := slices.IndexFunc(injected.InitContainers, func(c corev1.Container) bool { return c.Name == inject.CaptureContainer })
	if i < 0 {
		t.Fatalf("the injector adds no %s init container", inject.CaptureContainer)
	}
	capture := injected.InitContainers[i]
	var vols []corev1.Volume
	for _, m := range capture.VolumeMounts {
		j := slices.IndexFunc(injected.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name })
		if j < 0 {
			t.Fatalf("the injector's %s mounts volume %s, which it does not add", inject.CaptureContainer, m.Name)
		}
		vols = append(vols, injected.Volumes[j])
	}
	if !slices.ContainsFunc(capture.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/run" }) {
		t.Errorf("the injector's %s has no volume on /run: the legacy backend's lock file needs one with a read-only root", inject.CaptureContainer)
	}
	return capture, vols
}

// waitPodDone waits until the pod has succeeded or failed. A container that cannot start
// (its image cannot be pulled, say) fails the test at once, with the containers' states.
func waitPodDone(t *testing.T, ns, name string, timeout time.Duration) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	eventually(t, timeout, time.Second, fmt.Sprintf("pod %s/%s done", ns, name), func(ctx context.Context) (bool, error) {
		p, err := env.cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		pod = p
		for _, s := range append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
			if w := s.State.Waiting; w != nil && stuckReasons[w.Reason] {
				return false, fmt.Errorf("container %s cannot start:\n%s", s.Name, describeContainers(p, nil))
			}
		}
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed, nil
	})
	return pod
}

// stuckReasons are the waiting reasons of a container that will not start by itself.
var stuckReasons = map[string]bool{
	"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true,
	"CreateContainerConfigError": true, "CreateContainerError": true, "RunContainerError": true,
}

func podLogs(ctx context.Context, ns, pod, container string) string {
	b, err := env.cs.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container}).DoRaw(ctx)
	if err != nil {
		return fmt.Sprintf("(no logs: %v)", err)
	}
	return string(b)
}

// describeContainers lists each container's state and its logs (or termination message), for
// failure messages.
func describeContainers(p *corev1.Pod, logs map[string]string) string {
	var b strings.Builder
	for _, s := range append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
		state, body := "not started", ""
		switch {
		case s.State.Terminated != nil:
			state = fmt.Sprintf("exited %d (%s)", s.State.Terminated.ExitCode, s.State.Terminated.Reason)
			body = s.State.Terminated.Message
		case s.State.Waiting != nil:
			state = fmt.Sprintf("waiting: %s %s", s.State.Waiting.Reason, s.State.Waiting.Message)
		case s.State.Running != nil:
			state = "running"
		}
		if l := strings.TrimSpace(logs[s.Name]); l != "" && (s.State.Terminated != nil || s.State.Running != nil) {
			body = l
		}
		fmt.Fprintf(&b, "--- %s: %s\n", s.Name, state)
		if body = strings.TrimSpace(body); body != "" {
			fmt.Fprintf(&b, "%s\n", body)
		}
	}
	return b.String()
}

// probeLine returns captureProbe's line for what ("outbound", "proxy-port").
func probeLine(out, what string) string {
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, what+": "); ok {
			return rest
		}
	}
	return ""
}

// probeResult is the first word of probeLine.
func probeResult(out, what string) string {
	f := strings.Fields(probeLine(out, what))
	if len(f) == 0 {
		return "(no result)"
	}
	return f[0]
}
