package inject

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/outrider-sec/outrider/internal/mesh/appprobe"
	"github.com/outrider-sec/outrider/internal/policy"
	"github.com/outrider-sec/outrider/internal/workload"
)

func testConfig() *Config {
	return &Config{
		Image:            "127.0.0.1:5000/outrider@sha256:" + strings.Repeat("ab", 32),
		IdentityAddress:  "10.96.0.20:15012",
		BundleConfigMap:  "outrider-trust-bundle",
		ProxyResources:   DefaultResources("10m", "32Mi", "128Mi"),
		CaptureResources: DefaultResources("10m", "16Mi", "64Mi"),
	}
}

// appPod is a restricted, meshed-compliant application pod with HTTP and TCP probes.
func appPod() *corev1.PodSpec {
	return &corev1.PodSpec{
		AutomountServiceAccountToken: ptr.To(false),
		SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](1000),
			RunAsGroup: ptr.To[int64](1000), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
		InitContainers: []corev1.Container{appContainer("migrate")},
		Containers: []corev1.Container{func() corev1.Container {
			c := appContainer("app")
			c.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}
			c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http"),
				HTTPHeaders: []corev1.HTTPHeader{{Name: "X-Probe", Value: "1"}}}}, PeriodSeconds: 3}
			c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}}
			c.StartupProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
			return c
		}()},
		Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
	}
}

func appContainer(name string) corev1.Container {
	return corev1.Container{
		Name: name, Image: "registry.example.com/app@sha256:" + strings.Repeat("cd", 32),
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")},
		},
		SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
	}
}

func TestInjectAddsTheMeshFirstAndIsIdempotent(t *testing.T) {
	cfg := testConfig()
	orig := appPod()
	spec, changed := cfg.Inject(orig)
	if !changed {
		t.Fatal("nothing injected")
	}
	var inits []string
	for _, c := range spec.InitContainers {
		inits = append(inits, c.Name)
	}
	if got := strings.Join(inits, ","); got != "outrider-capture,outrider-proxy,migrate" {
		t.Fatalf("init containers %s: capture must run first, then the proxy (native sidecar), then the app's", got)
	}
	if p := spec.InitContainers[1]; p.RestartPolicy == nil || *p.RestartPolicy != corev1.ContainerRestartPolicyAlways || p.StartupProbe == nil {
		t.Error("the proxy is not a native sidecar with a startup probe")
	}
	// The proxy runs the sidecar's own binary, its flags straight after it; capture runs the
	// all-in-one binary's subcommand.
	if p := spec.InitContainers[1]; len(p.Command) != 1 || p.Command[0] != "/outrider-proxy" || len(p.Args) == 0 || !strings.HasPrefix(p.Args[0], "--") {
		t.Errorf("proxy command %q, args %q: want /outrider-proxy and flags", p.Command, p.Args)
	}
	if c := spec.InitContainers[0]; len(c.Command) != 1 || c.Command[0] != "/outrider" || len(c.Args) == 0 || c.Args[0] != "capture" {
		t.Errorf("capture command %q, args %q: want /outrider capture", c.Command, c.Args)
	}
	if len(spec.Volumes) != 1+5 || spec.Volumes[0].Name != "data" {
		t.Errorf("volumes %v: the app's first, the injector's appended", spec.Volumes)
	}
	if orig.InitContainers[0].Name != "migrate" || orig.Containers[0].ReadinessProbe.HTTPGet.Port.StrVal != "http" {
		t.Error("Inject changed its input")
	}
	again, changed := cfg.Inject(spec)
	if changed || again != spec {
		t.Error("injecting an injected pod changed it")
	}
}

func TestInjectRewritesProbesToTheProxy(t *testing.T) {
	spec, _ := testConfig().Inject(appPod())
	app := spec.Containers[0]
	for kind, p := range map[string]*corev1.Probe{"readyz": app.ReadinessProbe, "livez": app.LivenessProbe} {
		if p.HTTPGet == nil || p.HTTPGet.Port.IntVal != ProbePort || p.HTTPGet.Path != "/app-health/app/"+kind {
			t.Errorf("%s probe not rewritten: %+v", kind, p.ProbeHandler)
		}
	}
	if app.ReadinessProbe.PeriodSeconds != 3 {
		t.Error("the probe's timing was lost")
	}
	if app.StartupProbe.Exec == nil {
		t.Error("an exec probe was rewritten")
	}
	var env string
	for _, e := range spec.InitContainers[1].Env {
		if e.Name == appprobe.Env {
			env = e.Value
		}
	}
	probes, err := appprobe.Parse(env)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"/app-health/app/livez":{"tcpSocket":{"port":8080}},"/app-health/app/readyz":{"httpGet":{"port":8080,"path":"/ready","headers":{"X-Probe":"1"}}}}`
	if got, _ := json.Marshal(probes); string(got) != want {
		t.Errorf("originals %s\nwant %s", got, want)
	}
}

// meshedFindings evaluates a pod in a meshed namespace under the default policy.
func meshedFindings(t *testing.T, spec *corev1.PodSpec, inj policy.Injector) []string {
	t.Helper()
	p, err := policy.DefaultPolicy()
	if err != nil {
		t.Fatal(err)
	}
	pod := corev1.Pod{Spec: *spec}
	pod.APIVersion, pod.Kind, pod.Name = "v1", "Pod", "p"
	js, _ := json.Marshal(pod)
	obj, err := workload.DecodeObject("test", js)
	if err != nil {
		t.Fatal(err)
	}
	e := policy.NewEngine([]*policy.Policy{p}, func() time.Time { return time.Now() })
	if inj != nil {
		e = e.WithInjector(inj)
	}
	var out []string
	for _, f := range e.Evaluate(obj, policy.Namespace{Name: "shop", Labels: map[string]string{policy.MeshLabel: policy.MeshEnabled}}) {
		out = append(out, f.Check+"@"+f.Path)
	}
	return out
}

func TestInjectedPodPassesOnlyWithTheInjectorRecognised(t *testing.T) {
	cfg := testConfig()
	spec, _ := cfg.Inject(appPod())
	if got := meshedFindings(t, spec, cfg); len(got) != 0 {
		t.Errorf("the injected pod has findings: %v", got)
	}
	if got := meshedFindings(t, spec, nil); len(got) == 0 {
		t.Error("without the injector's recognition, the capture container's root and NET_ADMIN went unnoticed")
	}
}

// Attacks: a workload forging the injector's containers gets no exemption, however close it
// comes; only the exact templates are Outrider's.
func TestForgedMeshContainersAreRefused(t *testing.T) {
	cfg := testConfig()
	for name, forge := range map[string]func(*corev1.PodSpec){
		"capture running another command": func(s *corev1.PodSpec) { s.InitContainers[0].Args = []string{"sh", "-c", "iptables -F"} },
		"capture from another image":      func(s *corev1.PodSpec) { s.InitContainers[0].Image = "evil.example/tools:1" },
		"proxy from another image":        func(s *corev1.PodSpec) { s.InitContainers[1].Image = "evil.example/proxy:1" },
		"proxy running another binary":    func(s *corev1.PodSpec) { s.InitContainers[1].Command = []string{"/bin/sh"} },
		"proxy as the old template (/outrider proxy)": func(s *corev1.PodSpec) {
			s.InitContainers[1].Command = []string{"/outrider"}
			s.InitContainers[1].Args = append([]string{"proxy"}, s.InitContainers[1].Args...)
		},
		"proxy with a capability": func(s *corev1.PodSpec) {
			s.InitContainers[1].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
		},
		"proxy with a garbage probe table": func(s *corev1.PodSpec) {
			for i, e := range s.InitContainers[1].Env {
				if e.Name == appprobe.Env {
					s.InitContainers[1].Env[i].Value = `{"/etc/passwd":{}}`
				}
			}
		},
		"capture moved after the app's init container": func(s *corev1.PodSpec) {
			s.InitContainers[0], s.InitContainers[2] = s.InitContainers[2], s.InitContainers[0]
		},
		"capture as a main container": func(s *corev1.PodSpec) {
			s.Containers = append(s.Containers, s.InitContainers[0])
		},
		"the token volume pointed elsewhere": func(s *corev1.PodSpec) {
			s.Volumes[len(s.Volumes)-5].Projected.Sources[0].ServiceAccountToken.Audience = "kubernetes"
		},
	} {
		t.Run(name, func(t *testing.T) {
			spec, _ := cfg.Inject(appPod())
			forge(spec)
			if got := meshedFindings(t, spec, cfg); len(got) == 0 {
				t.Error("the forged pod was judged clean")
			}
		})
	}
}

// A pod that calls one of its own containers or volumes by the injector's names is not
// injected: admission then refuses it as a forgery, saying why, instead of the API server
// refusing a duplicate name.
func TestPodUsingReservedNamesIsNotInjected(t *testing.T) {
	cfg := testConfig()
	for name, forge := range map[string]func(*corev1.PodSpec){
		"main container named outrider-proxy": func(s *corev1.PodSpec) { s.Containers[0].Name = ProxyContainer },
		"volume named outrider-proxy-admin": func(s *corev1.PodSpec) {
			s.Volumes = append(s.Volumes, corev1.Volume{Name: AdminVolume})
		},
	} {
		spec := appPod()
		forge(spec)
		if _, changed := cfg.Inject(spec); changed {
			t.Errorf("%s: injected", name)
		}
		if got := meshedFindings(t, spec, cfg); len(got) == 0 {
			t.Errorf("%s: judged clean", name)
		}
	}
}

// The API server's ServiceAccount plugin runs again after injection (reinvocation) and mounts
// the pod's API token into every container without a mount at its path: the injector's
// containers hold an empty volume there, so they neither carry the app's API credentials nor
// stop matching the template (found by the e2e suite with automountServiceAccountToken on).
func TestInjectedContainersNeverGetTheAppsAPIToken(t *testing.T) {
	spec, _ := testConfig().Inject(appPod())
	for _, c := range spec.InitContainers[:2] {
		found := false
		for _, m := range c.VolumeMounts {
			found = found || (m.MountPath == "/var/run/secrets/kubernetes.io/serviceaccount" && m.Name == NoAPITokenVolume && m.ReadOnly)
		}
		if !found {
			t.Errorf("%s has no empty volume at the API token's path", c.Name)
		}
	}
}
