package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/outrider-sec/outrider/internal/mesh/inject"
)

const (
	meshLabel  = "security.outrider.dev/mesh"
	benchLabel = "outrider.dev/bench"
	appPort    = 8080
	appName    = "app"
	// serverMaxPayloadKiB is fortio server's -maxpayloadsizekb: the largest /echo?size= answer.
	serverMaxPayloadKiB = 1024
	proxyUID            = 1337
	bundleConfigMap     = "outrider-trust-bundle"
)

var accessPolicyGVR = schema.GroupVersionResource{Group: "security.outrider.dev", Version: "v1alpha1", Resource: "accesspolicies"}

// variant is one of the two namespaces.
type variant struct {
	name   string // direct or meshed
	ns     string
	meshed bool
	server *corev1.Pod // as once Ready
	client *corev1.Pod
}

type bench struct {
	cfg   config
	cs    kubernetes.Interface
	dyn   dynamic.Interface
	state string
	id    string
	vs    []*variant // direct first
	res   results
}

func (b *bench) variant(name string) *variant {
	for _, v := range b.vs {
		if v.name == name {
			return v
		}
	}
	return nil
}

// --- state and cleanup --------------------------------------------------------------------

// cleanStale deletes the namespaces an earlier run left (killed with SIGKILL), and refuses to
// run beside a live one.
func (b *bench) cleanStale() error {
	raw, err := os.ReadFile(b.state)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var stale []string
	for _, l := range strings.Split(string(raw), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		switch f[0] {
		case "owner":
			if pid, err := strconv.Atoi(f[1]); err == nil && pid != os.Getpid() && syscall.Kill(pid, 0) == nil {
				if cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); bytes.Contains(cmd, []byte("incluster")) {
					return fmt.Errorf("another bench-mesh-cluster run (pid %d) is active", pid)
				}
			}
		case "namespace":
			stale = append(stale, f[1])
		}
	}
	for _, ns := range stale {
		logf("deleting namespace %s left by an earlier run", ns)
		b.deleteNamespace(ns)
	}
	return os.Remove(b.state)
}

func (b *bench) writeState() error {
	var s strings.Builder
	fmt.Fprintf(&s, "owner %d\n", os.Getpid())
	for _, v := range b.vs {
		fmt.Fprintf(&s, "namespace %s\n", v.ns)
	}
	return os.WriteFile(b.state, []byte(s.String()), 0o644)
}

func (b *bench) deleteNamespace(ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := b.cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})
	if err != nil && !apierrors.IsNotFound(err) {
		logf("WARNING: deleting namespace %s: %v (delete it by hand)", ns, err)
	}
}

// cleanup deletes the run's namespaces and waits (a while) until they are gone.
func (b *bench) cleanup() {
	if len(b.vs) == 0 {
		return
	}
	for _, v := range b.vs {
		logf("deleting namespace %s", v.ns)
		b.deleteNamespace(v.ns)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		for _, v := range b.vs {
			if _, err := b.cs.CoreV1().Namespaces().Get(ctx, v.ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		logf("WARNING: the namespaces are still terminating after 2 minutes; they go away by themselves")
	}
	_ = os.Remove(b.state)
}

// --- set-up ---------------------------------------------------------------------------------

func randomID() string {
	var r [3]byte
	_, _ = rand.Read(r[:])
	return hex.EncodeToString(r[:])
}

func (b *bench) setUp(ctx context.Context) error {
	b.id = randomID()
	b.vs = []*variant{
		{name: "direct", ns: "bench-mesh-" + b.id + "-plain"},
		{name: "meshed", ns: "bench-mesh-" + b.id + "-meshed", meshed: true},
	}
	if err := b.writeState(); err != nil {
		return err
	}
	for _, v := range b.vs {
		labels := map[string]string{benchLabel: "mesh-cluster"}
		if v.meshed {
			labels[meshLabel] = "enabled"
		}
		logf("namespace %s (%s)", v.ns, v.name)
		if _, err := b.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: v.ns, Labels: labels}}, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating namespace %s: %w", v.ns, err)
		}
		for _, sa := range []string{"client", "server", "startup"} {
			if err := b.createServiceAccount(ctx, v.ns, sa); err != nil {
				return err
			}
		}
		if v.meshed {
			if err := b.createAccessPolicy(ctx, v.ns); err != nil {
				return err
			}
			// The injected proxy mounts the namespace's trust bundle; the controller writes it.
			if err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
				_, err := b.cs.CoreV1().ConfigMaps(v.ns).Get(ctx, bundleConfigMap, metav1.GetOptions{})
				return err == nil, nil
			}); err != nil {
				return fmt.Errorf("namespace %s: no ConfigMap %s after a minute: is the mesh on (make up)?", v.ns, bundleConfigMap)
			}
		}
	}
	for _, v := range b.vs {
		for _, name := range []string{"server", "client"} {
			if _, err := b.cs.CoreV1().Pods(v.ns).Create(ctx, b.pod(v.ns, name, name, name), metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("creating pod %s/%s: %w", v.ns, name, err)
			}
		}
	}
	for _, v := range b.vs {
		var err error
		if v.server, err = b.waitReady(ctx, v.ns, "server", 3*time.Minute); err != nil {
			return err
		}
		if v.client, err = b.waitReady(ctx, v.ns, "client", 3*time.Minute); err != nil {
			return err
		}
		if v.meshed {
			for _, p := range []*corev1.Pod{v.server, v.client} {
				if !inject.Injected(&p.Spec) {
					return fmt.Errorf("pod %s/%s was not injected: is the mesh on in the local cluster?", p.Namespace, p.Name)
				}
			}
			b.res.proxyCommand = proxyCommand(v.server)
			b.res.proxyImage = proxyImage(v.server)
		} else if inject.Injected(&v.server.Spec) || inject.Injected(&v.client.Spec) {
			return fmt.Errorf("a pod of the plain namespace %s was injected", v.ns)
		}
		logf("%s: server %s, client %s", v.name, v.server.Status.PodIP, v.client.Status.PodIP)
	}
	return nil
}

func (b *bench) createServiceAccount(ctx context.Context, ns, name string) error {
	_, err := b.cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{
		ObjectMeta:                   metav1.ObjectMeta{Name: name},
		AutomountServiceAccountToken: ptr.To(false),
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating ServiceAccount %s/%s: %w", ns, name, err)
	}
	return nil
}

// createAccessPolicy allows the client's ServiceAccount to the server's port: the server's
// proxy then authorizes every connection against a rule (not the "unselected" default).
func (b *bench) createAccessPolicy(ctx context.Context, ns string) error {
	ap := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "security.outrider.dev/v1alpha1",
		"kind":       "AccessPolicy",
		"metadata":   map[string]any{"name": "server", "namespace": ns},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": "server"}},
			"ingress": []any{map[string]any{
				"from":  []any{map[string]any{"serviceAccounts": []any{"client"}}},
				"ports": []any{map[string]any{"port": int64(appPort)}},
			}},
		},
	}}
	if _, err := b.dyn.Resource(accessPolicyGVR).Namespace(ns).Create(ctx, ap, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating AccessPolicy %s/server: %w", ns, err)
	}
	return nil
}

// pod is a restricted pod running `fortio server` (UID 65532, not the proxy's 1337; no
// capabilities; read-only root with an emptyDir on /tmp for fortio's data directory). The
// client pods run it too, idle: `fortio load` is exec'd beside it.
func (b *bench) pod(ns, name, app, sa string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{
			ServiceAccountName:            sa,
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](2),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				RunAsUser:      ptr.To[int64](65532),
				RunAsGroup:     ptr.To[int64](65532),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Volumes: []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			Containers: []corev1.Container{{
				Name:  appName,
				Image: b.cfg.image,
				Args: []string{"server", "-http-port", strconv.Itoa(appPort), "-grpc-port", "disabled", "-redirect-port", "disabled",
					"-tcp-port", "disabled", "-udp-port", "disabled", "-data-dir", "/tmp",
					"-maxpayloadsizekb", strconv.Itoa(serverMaxPayloadKiB)},
				Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: appPort}},
				ImagePullPolicy: corev1.PullIfNotPresent,
				VolumeMounts:    []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
				},
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false),
					ReadOnlyRootFilesystem:   ptr.To(true),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
		},
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (b *bench) waitReady(ctx context.Context, ns, name string, timeout time.Duration) (*corev1.Pod, error) {
	var pod *corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		p, err := b.cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		pod = p
		if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
			return false, fmt.Errorf("pod %s/%s ended: %s", ns, name, p.Status.Phase)
		}
		return podReady(p), nil
	})
	if err != nil {
		return nil, fmt.Errorf("pod %s/%s not Ready after %v: %w (%s)", ns, name, timeout, err, describe(pod))
	}
	return pod, nil
}

// describe is a short account of a pod's containers, for errors.
func describe(p *corev1.Pod) string {
	if p == nil {
		return "not found"
	}
	var s []string
	for _, cs := range append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
		st := "waiting"
		switch {
		case cs.State.Running != nil:
			st = "running"
		case cs.State.Terminated != nil:
			st = "terminated: " + cs.State.Terminated.Reason
		case cs.State.Waiting != nil:
			st = "waiting: " + cs.State.Waiting.Reason
		}
		s = append(s, cs.Name+" "+st)
	}
	return fmt.Sprintf("phase %s; %s", p.Status.Phase, strings.Join(s, ", "))
}

func proxyContainer(p *corev1.Pod) *corev1.Container {
	for i := range p.Spec.InitContainers {
		if p.Spec.InitContainers[i].Name == inject.ProxyContainer {
			return &p.Spec.InitContainers[i]
		}
	}
	return nil
}

func proxyCommand(p *corev1.Pod) string {
	c := proxyContainer(p)
	if c == nil {
		return ""
	}
	return strings.Join(append(slices.Clone(c.Command), c.Args...), " ")
}

func proxyImage(p *corev1.Pod) string {
	if c := proxyContainer(p); c != nil {
		return c.Image
	}
	return ""
}

// --- running fortio in the client pod ------------------------------------------------------

// execFortio runs fortio with args in the client pod's app container and returns its stdout;
// stderr goes to errLog.
func (b *bench) execFortio(ctx context.Context, v *variant, errLog io.Writer, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, b.cfg.kubectl, append([]string{"--kubeconfig", b.cfg.kubeconfig, "exec", "-n", v.ns, "client", "-c", appName, "--", "/fortio"}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, errLog
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	return out.Bytes(), err
}

// --- processes on the node -----------------------------------------------------------------

// containerPID is the host PID of a container's main process: its ID from the pod status,
// its task from containerd (`ctr task ls`, read only).
func (b *bench) containerPID(ctx context.Context, p *corev1.Pod, name string) (int, error) {
	var id string
	for _, cs := range append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
		if cs.Name == name {
			id = strings.TrimPrefix(cs.ContainerID, "containerd://")
		}
	}
	if id == "" {
		return 0, fmt.Errorf("pod %s/%s: no container %s in the status", p.Namespace, p.Name, name)
	}
	out, err := exec.CommandContext(ctx, "ctr", "--address", b.cfg.socket, "-n", "k8s.io", "task", "ls").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("ctr task ls: %v: %s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == id {
			if f[2] != "RUNNING" {
				return 0, fmt.Errorf("container %s of %s/%s is %s", name, p.Namespace, p.Name, f[2])
			}
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("container %s of %s/%s (%s): no containerd task", name, p.Namespace, p.Name, id)
}

// uid is the real UID of a process.
func uid(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "Uid:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				return strconv.Atoi(f[0])
			}
		}
	}
	return 0, fmt.Errorf("no Uid in /proc/%d/status", pid)
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// cpuShares is the cgroup v1 CPU weight of a process's container and of its pod (the parent
// cgroup), or "" when the node does not use the v1 cpu controller.
func cpuShares(pid int) string {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(raw), "\n") {
		f := strings.SplitN(l, ":", 3)
		if len(f) != 3 || !slices.Contains(strings.Split(f[1], ","), "cpu") {
			continue
		}
		read := func(dir string) string {
			b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/cpu", dir, "cpu.shares"))
			if err != nil {
				return "?"
			}
			return strings.TrimSpace(string(b))
		}
		return fmt.Sprintf("container %s, pod %s", read(f[2]), read(filepath.Dir(f[2])))
	}
	return ""
}

// processes names the processes procmon watches for a variant: the server's fortio, and in
// the meshed namespace both proxies (checked to run as the proxy's UID).
func (b *bench) processes(ctx context.Context, v *variant) (map[string]int, error) {
	m := map[string]int{}
	pid, err := b.containerPID(ctx, v.server, appName)
	if err != nil {
		return nil, err
	}
	m["server-app"] = pid
	if b.res.shares == nil {
		b.res.shares = map[string]string{}
	}
	b.res.shares["fortio server ("+v.name+")"] = cpuShares(pid)
	if !v.meshed {
		return m, nil
	}
	for side, p := range map[string]*corev1.Pod{"client": v.client, "server": v.server} {
		pid, err := b.containerPID(ctx, p, inject.ProxyContainer)
		if err != nil {
			return nil, err
		}
		if u, err := uid(pid); err != nil || u != proxyUID {
			return nil, fmt.Errorf("process %d (%s) of %s/%s's proxy container runs as UID %d (%v), want %d",
				pid, cmdline(pid), p.Namespace, p.Name, u, err, proxyUID)
		}
		m[side+"-proxy"] = pid
		b.res.shares[side+"-side proxy"] = cpuShares(pid)
		if side == "server" {
			b.res.proxyProcess = cmdline(pid)
		}
	}
	return m, nil
}

// --- the proxies' metrics (pod IP:15090, left open by capture; the node is on the bridge) ---

func metrics(ctx context.Context, podIP string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(podIP, strconv.Itoa(inject.MetricsPort))+"/metrics", nil)
	if err != nil {
		return "", err
	}
	c := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /metrics of %s: %s", podIP, resp.Status)
	}
	return string(body), nil
}

// series returns the lines of metric whose labels contain every one of labels.
func series(text, metric string, labels ...string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, metric+"{") && !strings.HasPrefix(l, metric+" ") {
			continue
		}
		ok := true
		for _, want := range labels {
			ok = ok && strings.Contains(l, want)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// sum adds the values of lines.
func sum(lines []string) float64 {
	var s float64
	for _, l := range lines {
		f := strings.Fields(l)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			s += v
		}
	}
	return s
}

// proxyCounters keeps both proxies' connection, handshake and authorization counters.
func (b *bench) proxyCounters(ctx context.Context) []string {
	v := b.variant("meshed")
	var out []string
	for _, p := range []*corev1.Pod{v.client, v.server} {
		side := p.Name
		text, err := metrics(ctx, p.Status.PodIP)
		if err != nil {
			out = append(out, side+": "+err.Error())
			continue
		}
		for _, m := range []string{"outrider_proxy_outbound_connections_total", "outrider_proxy_tls_handshakes_total", "outrider_proxy_authorization_decisions_total"} {
			for _, l := range series(text, m) {
				out = append(out, side+": "+l)
			}
		}
	}
	return out
}
