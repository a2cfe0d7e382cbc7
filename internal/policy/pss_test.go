package policy

import (
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	psaapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"
)

// Each upstream check fires under its own ID, at the field to change, attributed to the
// container it concerns.
func TestPSSChecksFireWithUpstreamIDs(t *testing.T) {
	tests := []struct {
		name   string
		level  string
		mutate func(*corev1.Pod)
		want   []string
	}{
		{"privileged", "baseline", func(p *corev1.Pod) { p.Spec.Containers[0].SecurityContext.Privileged = ptr(true) },
			[]string{"pss.privileged@spec.containers[0].securityContext.privileged"}},
		{"hostNetwork", "baseline", func(p *corev1.Pod) { p.Spec.HostNetwork = true },
			[]string{"pss.hostNamespaces@spec"}},
		{"hostPID", "restricted", func(p *corev1.Pod) { p.Spec.HostPID = true },
			[]string{"pss.hostNamespaces@spec"}},
		{"capabilities at baseline", "baseline", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
		}, []string{"pss.capabilities_baseline@spec.containers[0].securityContext.capabilities"}},
		{"capabilities at restricted", "restricted", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
		}, []string{"pss.capabilities_restricted@spec.containers[0].securityContext.capabilities"}},
		{"hostPath at baseline", "baseline", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}
		}, []string{"pss.hostPathVolumes@spec.volumes"}},
		{"hostPath at restricted", "restricted", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}
		}, []string{"pss.restrictedVolumes@spec.volumes"}},
		{"runAsUser 0", "restricted", func(p *corev1.Pod) { p.Spec.Containers[0].SecurityContext.RunAsUser = ptr(int64(0)) },
			[]string{"pss.runAsUser@spec.containers[0].securityContext.runAsUser"}},
		{"seLinuxOptions", "baseline", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext.SELinuxOptions = &corev1.SELinuxOptions{User: "root"}
		}, []string{"pss.seLinuxOptions@spec.containers[0].securityContext.seLinuxOptions"}},
		{"procMount", "baseline", func(p *corev1.Pod) {
			pm := corev1.UnmaskedProcMount
			p.Spec.Containers[0].SecurityContext.ProcMount = &pm
		}, []string{"pss.procMount@spec.containers[0].securityContext.procMount"}},
		{"runAsNonRoot unset everywhere", "restricted", func(p *corev1.Pod) { p.Spec.SecurityContext.RunAsNonRoot = nil },
			[]string{"pss.runAsNonRoot@spec.containers[0].securityContext.runAsNonRoot"}},
		{"runAsNonRoot false on the pod", "restricted", func(p *corev1.Pod) { p.Spec.SecurityContext.RunAsNonRoot = ptr(false) },
			[]string{"pss.runAsNonRoot@spec.securityContext.runAsNonRoot"}},
		{"allowPrivilegeEscalation", "restricted", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil
		}, []string{"pss.allowPrivilegeEscalation@spec.containers[0].securityContext.allowPrivilegeEscalation"}},
		{"restricted checks do not run at baseline", "baseline", func(p *corev1.Pod) { p.Spec.SecurityContext = nil },
			nil},
		{"privileged level runs nothing", "privileged", func(p *corev1.Pod) { p.Spec.Containers[0].SecurityContext.Privileged = ptr(true) },
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := compile(t, "podSecurity: {level: "+tt.level+"}")
			var got []string
			for _, c := range checksOf(evaluate(podWith(t, tt.mutate), p), "") {
				if strings.HasPrefix(c, pssPrefix) {
					got = append(got, c)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestPSSMessageNamesContainerAndField(t *testing.T) {
	p := compile(t, "podSecurity: {level: baseline}")
	fs := evaluate(podWith(t, func(p *corev1.Pod) { p.Spec.Containers[0].SecurityContext.Privileged = ptr(true) }), p)
	if len(fs) != 1 || fs[0].Container != "app" || !strings.Contains(fs[0].Message, `container "app"`) || fs[0].Severity != SeverityCritical {
		t.Fatalf("got %+v", fs)
	}
}

// A pinned version keeps the checks of that version: seccomp became required by restricted
// in v1.19, so a v1.0 policy does not ask for it.
func TestPSSVersionPinning(t *testing.T) {
	noSeccomp := func(p *corev1.Pod) { p.Spec.SecurityContext.SeccompProfile = nil }
	latest := checksOf(evaluate(podWith(t, noSeccomp), compile(t, "podSecurity: {level: restricted, version: latest}")), "pss.seccompProfile_restricted")
	old := checksOf(evaluate(podWith(t, noSeccomp), compile(t, "podSecurity: {level: restricted, version: v1.0}")), "pss.seccompProfile_restricted")
	if len(latest) == 0 || len(old) != 0 {
		t.Errorf("latest=%v v1.0=%v: want a finding at latest only", latest, old)
	}
}

// The selection must run exactly what upstream's own evaluator runs, at every level and at
// pinned versions: same number of checks, same forbidden reasons for a pod that breaks many.
func TestSelectPSSChecksMatchesUpstreamEvaluator(t *testing.T) {
	eval, err := psapolicy.NewEvaluator(psapolicy.DefaultChecks())
	if err != nil {
		t.Fatal(err)
	}
	bad := podWith(t, func(p *corev1.Pod) {
		p.Spec.HostNetwork = true
		p.Spec.SecurityContext = nil
		p.Spec.Volumes = []corev1.Volume{{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}
		sc := p.Spec.Containers[0].SecurityContext
		sc.Privileged, sc.AllowPrivilegeEscalation = ptr(true), nil
		sc.Capabilities = &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN"}}
	}).Template
	for _, lvl := range []string{"baseline", "restricted"} {
		for _, ver := range []string{"latest", "v1.0", "v1.22", "v1.25"} {
			level, _ := psaapi.ParseLevel(lvl)
			version, _ := psaapi.ParseVersion(ver)
			upstream := eval.EvaluatePod(psaapi.LevelVersion{Level: level, Version: version}, bad.Meta, bad.Spec)
			ours := selectPSSChecks(level, version)
			if len(ours) != len(upstream) {
				t.Errorf("%s %s: %d checks selected, upstream runs %d", lvl, ver, len(ours), len(upstream))
				continue
			}
			var want, got []string
			for _, r := range upstream {
				if !r.Allowed {
					want = append(want, r.ForbiddenReason)
				}
			}
			for _, c := range ours {
				if r := c.check(bad.Meta, bad.Spec); !r.Allowed {
					got = append(got, r.ForbiddenReason)
				}
			}
			sort.Strings(want)
			sort.Strings(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s %s forbidden reasons (-upstream +ours):\n%s", lvl, ver, diff)
			}
		}
	}
}
