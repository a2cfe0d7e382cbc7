// Package inject puts the mesh into a pod: the `outrider capture` init container, the proxy as
// a native sidecar (an init container with restartPolicy Always and a startup probe, so the
// application starts only once the proxy is ready and Jobs complete when their main containers
// exit), the proxy's volumes (identity token, admin socket, trust bundle) and the application's
// HTTP and TCP probes rewritten to the proxy's probe port, since capture would otherwise send
// the kubelet's plain-text probes to the proxy's mTLS listener.
//
// Injection is a pure function of the Config and the pod, and it is idempotent: a pod that
// already holds the injected containers is left alone. The same function recognises, for
// admission, exactly the containers and volumes it would inject (Injected): those, and only
// those, are exempt from the checks that application containers must pass.
package inject

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/outrider-sec/outrider/internal/mesh/appprobe"
	"github.com/outrider-sec/outrider/internal/policy"
)

// Names and paths of what the injector adds. Container and volume names are reserved by the
// policy engine (mesh.reservedNames): only the injector's exact templates may use them.
const (
	CaptureContainer = policy.CaptureContainer
	ProxyContainer   = policy.ProxyContainer

	TokenVolume  = policy.ProxyVolumePrefix + "-token"
	AdminVolume  = policy.ProxyVolumePrefix + "-admin"
	BundleVolume = policy.ProxyVolumePrefix + "-bundle"
	RunVolume    = policy.ProxyVolumePrefix + "-run"
	// NoAPITokenVolume is an empty volume mounted where Kubernetes mounts the pod's API token:
	// the ServiceAccount admission plugin then leaves the injector's containers alone (it runs
	// again after injection), so they never carry the application's API credentials.
	NoAPITokenVolume = policy.ProxyVolumePrefix + "-no-api-token"
	apiTokenDir      = "/var/run/secrets/kubernetes.io/serviceaccount"

	// CaptureBinary runs `outrider capture` in the capture init container: the all-in-one binary,
	// the Outrider image's entrypoint.
	CaptureBinary = "/outrider"
	// ProxyBinary is the sidecar's own binary in the Outrider image (cmd/outrider-proxy): the
	// proxy alone, without the control plane that the all-in-one binary links, so each meshed
	// pod's proxy stays small in memory. It takes the flags of `outrider proxy`.
	ProxyBinary = "/outrider-proxy"

	TokenDir   = "/var/run/secrets/outrider/identity"
	TokenFile  = TokenDir + "/token"
	AdminDir   = "/var/run/outrider-proxy"
	AdminSock  = AdminDir + "/admin.sock"
	BundleDir  = "/var/run/outrider/bundle"
	BundleFile = BundleDir + "/bundle.pem"

	// TokenAudience is the audience of the projected ServiceAccount token the proxy presents to
	// the identity service.
	TokenAudience = "outrider-identity"
	// TokenSeconds is the token's lifetime; the kubelet renews it at 80%.
	TokenSeconds = 3600

	// ProbePort is where the proxy answers the application's rewritten probes (plain HTTP,
	// never captured, closed to the rest of the pod by capture).
	ProbePort = 15021
	// MetricsPort is the proxy's read-only Prometheus endpoint.
	MetricsPort = 15090

	// InjectAnnotation "false" on a pod template opts it out of the mesh, when the user who
	// wrote it may (the admission controller's opt-out settings).
	InjectAnnotation = policy.InjectAnnotation
	// StatusAnnotation records that the pod was injected, and with which template version.
	StatusAnnotation = "security.outrider.dev/injected"
	// Version changes whenever the templates change shape (v2: the proxy runs /outrider-proxy,
	// not /outrider proxy).
	Version = "v3"
)

// Config is what the injected containers are made from. Everything in the pod that the
// injector adds follows from it and from the pod's own probes.
type Config struct {
	// Image is Outrider's image (capture and proxy), pinned by digest in production.
	Image string
	// IdentityAddress is host:port of `outrider identity`, as pods reach it.
	IdentityAddress string
	// IdentityID is the SPIFFE ID the identity service must present.
	IdentityID string
	// BundleConfigMap holds the trust bundle (key bundle.pem) in every meshed namespace.
	BundleConfigMap string
	// ProxyResources and CaptureResources are the containers' requests and limits.
	ProxyResources, CaptureResources corev1.ResourceRequirements
	// ExcludeOutboundCIDRs go around the proxy (the API server, for example).
	ExcludeOutboundCIDRs []string
	// LogLevel of the proxy.
	LogLevel string
}

// DefaultResources are small requests and limits that satisfy container.resources.
func DefaultResources(cpu, memory, limit string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory)},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(limit)},
	}
}

// Validate reports a configuration the injector cannot work with.
func (c *Config) Validate() error {
	switch {
	case c.Image == "":
		return fmt.Errorf("the mesh image is not set")
	case c.IdentityAddress == "":
		return fmt.Errorf("the identity service address is not set")
	case c.IdentityID == "":
		return fmt.Errorf("the identity service's SPIFFE ID is not set")
	case c.BundleConfigMap == "":
		return fmt.Errorf("the trust bundle ConfigMap is not set")
	}
	return nil
}

// Injected reports whether spec already holds the injected containers.
func Injected(spec *corev1.PodSpec) bool {
	for _, c := range spec.InitContainers {
		if c.Name == ProxyContainer {
			return true
		}
	}
	return false
}

// Inject returns spec with the mesh added, and whether anything changed. A pod that already
// holds the injector's containers is returned unchanged (re-admission, reinvocation).
//
// A pod that already uses one of the injector's names for a container or volume of its own is
// left alone too: admission refuses it (mesh.reservedNames), with a message saying why, rather
// than the API server refusing a duplicate name.
func (c *Config) Inject(spec *corev1.PodSpec) (*corev1.PodSpec, bool) {
	if Injected(spec) || usesReservedNames(spec) {
		return spec, false
	}
	out := spec.DeepCopy()
	probes := rewriteProbes(out, ProbePort)
	out.InitContainers = append([]corev1.Container{c.captureContainer(), c.proxyContainer(probes)}, out.InitContainers...)
	out.Volumes = append(out.Volumes, c.volumes()...)
	return out, true
}

// InjectedContainer reports whether ctr, found in spec, is exactly what the injector makes for
// that pod: the injected init containers (at their place, first) with their exact contents.
func (c *Config) InjectedContainer(spec *corev1.PodSpec, ctr *corev1.Container) bool {
	if len(spec.InitContainers) < 2 {
		return false
	}
	switch ctr.Name {
	case CaptureContainer:
		return ctr == &spec.InitContainers[0] && equality.Semantic.DeepEqual(*ctr, c.captureContainer())
	case ProxyContainer:
		if ctr != &spec.InitContainers[1] {
			return false
		}
		// The rewritten probes' originals travel in one env var; they are checked for shape
		// only (the proxy probes nothing but its own pod's loopback with them).
		got := *ctr
		got.Env = nil
		for _, e := range ctr.Env {
			if e.Name == appprobe.Env {
				if _, err := appprobe.Parse(e.Value); err != nil {
					return false
				}
				continue
			}
			got.Env = append(got.Env, e)
		}
		return equality.Semantic.DeepEqual(got, c.proxyContainer(nil))
	}
	return false
}

// InjectedVolume reports whether v is one of the injector's volumes with its exact contents.
func (c *Config) InjectedVolume(_ *corev1.PodSpec, v *corev1.Volume) bool {
	for _, want := range c.volumes() {
		if v.Name == want.Name {
			return equality.Semantic.DeepEqual(*v, want)
		}
	}
	return false
}

func (c *Config) captureContainer() corev1.Container {
	args := []string{"capture", "--proxy-mark=-1", "--proxy-ports=" + strconv.Itoa(MetricsPort) + "," + strconv.Itoa(ProbePort)}
	if len(c.ExcludeOutboundCIDRs) > 0 {
		cidrs := append([]string(nil), c.ExcludeOutboundCIDRs...)
		sort.Strings(cidrs)
		args = append(args, "--exclude-outbound-cidrs="+joinComma(cidrs))
	}
	return corev1.Container{
		Name:      CaptureContainer,
		Image:     c.Image,
		Command:   []string{CaptureBinary},
		Args:      args,
		Resources: c.CaptureResources,
		// Root in this init container only, with the two capabilities programming iptables
		// needs (NET_RAW for the legacy backend), nothing else; it exits before the app starts.
		SecurityContext: &corev1.SecurityContext{
			RunAsUser:                ptr.To[int64](0),
			RunAsGroup:               ptr.To[int64](0),
			RunAsNonRoot:             ptr.To(false),
			AllowPrivilegeEscalation: ptr.To(false),
			ReadOnlyRootFilesystem:   ptr.To(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"NET_ADMIN", "NET_RAW"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		VolumeMounts: []corev1.VolumeMount{
			{Name: RunVolume, MountPath: "/run"},
			{Name: NoAPITokenVolume, MountPath: apiTokenDir, ReadOnly: true},
		},
		TerminationMessagePath:   corev1.TerminationMessagePathDefault,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		ImagePullPolicy:          corev1.PullIfNotPresent,
	}
}

func (c *Config) proxyContainer(probes appprobe.Set) corev1.Container {
	args := []string{
		"--identity-address=" + c.IdentityAddress,
		"--identity-id=" + c.IdentityID,
		"--identity-token=" + TokenFile,
		"--bootstrap-bundle=" + BundleFile,
		"--admin-socket=" + AdminSock,
		"--mark=-1",
		"--probe-addr=:" + strconv.Itoa(ProbePort),
	}
	if c.LogLevel != "" {
		args = append(args, "--log-level="+c.LogLevel)
	}
	ctr := corev1.Container{
		Name:          ProxyContainer,
		Image:         c.Image,
		Command:       []string{ProxyBinary},
		Args:          args,
		RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
		Ports: []corev1.ContainerPort{
			{Name: "outrider-probe", ContainerPort: ProbePort, Protocol: corev1.ProtocolTCP},
			{Name: "outrider-metric", ContainerPort: MetricsPort, Protocol: corev1.ProtocolTCP},
		},
		Env: []corev1.EnvVar{
			{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}},
			{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}},
		},
		Resources: c.ProxyResources,
		// The application starts once the proxy has its identity, bundle and policy.
		StartupProbe: &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz/ready", Port: intstr.FromInt32(ProbePort), Scheme: corev1.URISchemeHTTP}},
			PeriodSeconds:    1,
			TimeoutSeconds:   1,
			SuccessThreshold: 1,
			FailureThreshold: 120,
		},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz/ready", Port: intstr.FromInt32(ProbePort), Scheme: corev1.URISchemeHTTP}},
			PeriodSeconds:    2,
			TimeoutSeconds:   1,
			SuccessThreshold: 1,
			FailureThreshold: 3,
		},
		SecurityContext: &corev1.SecurityContext{
			RunAsUser:                ptr.To(policy.ProxyUID),
			RunAsGroup:               ptr.To(policy.ProxyGID),
			RunAsNonRoot:             ptr.To(true),
			AllowPrivilegeEscalation: ptr.To(false),
			ReadOnlyRootFilesystem:   ptr.To(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		VolumeMounts: []corev1.VolumeMount{
			{Name: TokenVolume, MountPath: TokenDir, ReadOnly: true},
			{Name: AdminVolume, MountPath: AdminDir},
			{Name: BundleVolume, MountPath: BundleDir, ReadOnly: true},
			{Name: NoAPITokenVolume, MountPath: apiTokenDir, ReadOnly: true},
		},
		TerminationMessagePath:   corev1.TerminationMessagePathDefault,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		ImagePullPolicy:          corev1.PullIfNotPresent,
	}
	if len(probes) > 0 {
		js, _ := json.Marshal(probes) // map keys are sorted: the value is deterministic
		ctr.Env = append(ctr.Env, corev1.EnvVar{Name: appprobe.Env, Value: string(js)})
	}
	return ctr
}

func (c *Config) volumes() []corev1.Volume {
	return []corev1.Volume{
		{Name: TokenVolume, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			// Readable by the proxy's UID: only the proxy container mounts it (mesh.proxyVolumes).
			DefaultMode: ptr.To[int32](0o444),
			Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
				Audience: TokenAudience, ExpirationSeconds: ptr.To[int64](TokenSeconds), Path: "token",
			}}},
		}}},
		{Name: AdminVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: ptr.To(resource.MustParse("1Mi"))}}},
		{Name: BundleVolume, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: c.BundleConfigMap},
			Items:                []corev1.KeyToPath{{Key: "bundle.pem", Path: "bundle.pem"}},
			DefaultMode:          ptr.To[int32](0o444),
		}}},
		{Name: RunVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: ptr.To(resource.MustParse("1Mi"))}}},
		{Name: NoAPITokenVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: ptr.To(resource.MustParse("1Ki"))}}},
	}
}

func joinComma(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ","
		}
		out += v
	}
	return out
}

// Mesh labels and annotations that decide injection.
const (
	// MeshOptional on a namespace's mesh label lets its pods join with the pod annotation.
	MeshOptional = "optional"
	// InjectDisabled on InjectAnnotation opts a pod out.
	InjectDisabled = policy.InjectDisabled
)

// Wanted says whether a pod with these annotations, in a namespace with these labels, is
// meshed: the namespace is labelled security.outrider.dev/mesh=enabled, or =optional and the
// pod annotated security.outrider.dev/mesh=enabled; and the pod is not annotated
// security.outrider.dev/inject=false.
func Wanted(podAnnotations, nsLabels map[string]string) bool {
	if podAnnotations[InjectAnnotation] == InjectDisabled {
		return false
	}
	switch nsLabels[policy.MeshLabel] {
	case policy.MeshEnabled:
		return true
	case MeshOptional:
		return podAnnotations[policy.MeshAnnotation] == policy.MeshEnabled
	}
	return false
}

// usesReservedNames reports whether the pod names a container or volume as the injector would.
func usesReservedNames(spec *corev1.PodSpec) bool {
	reserved := func(name string) bool { return name == CaptureContainer || name == ProxyContainer }
	for _, c := range spec.Containers {
		if reserved(c.Name) {
			return true
		}
	}
	for _, c := range spec.InitContainers {
		if reserved(c.Name) {
			return true
		}
	}
	for _, c := range spec.EphemeralContainers {
		if reserved(c.Name) {
			return true
		}
	}
	for _, v := range spec.Volumes {
		if strings.HasPrefix(v.Name, policy.ProxyVolumePrefix) {
			return true
		}
	}
	return false
}
