package policy

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	psaapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"

	"github.com/outrider-sec/outrider/internal/workload"
)

// pssPrefix starts the ID of every finding of an upstream Pod Security Standards check.
const pssPrefix = "pss."

// pssCheck is one upstream check, at the version a policy selected.
type pssCheck struct {
	id    string // "pss.<upstream ID>"
	check psapolicy.CheckPodFn
}

// selectPSSChecks returns the upstream checks of level at version, the way the upstream
// evaluator selects them: every check of the level and below, at the newest revision not
// newer than version, minus the baseline checks a restricted check overrides. The checks
// themselves are upstream's; only the selection is done here, because upstream's evaluator
// does not say which check produced which result.
func selectPSSChecks(level psaapi.Level, version psaapi.Version) []pssCheck {
	if level == psaapi.LevelPrivileged {
		return nil
	}
	type chosen struct {
		id string
		vc psapolicy.VersionedCheck
	}
	var picked []chosen
	overridden := map[psapolicy.CheckID]bool{}
	for _, c := range psapolicy.DefaultChecks() {
		if c.Level == psaapi.LevelRestricted && level != psaapi.LevelRestricted {
			continue
		}
		vc, ok := revisionAt(c.Versions, version)
		if !ok {
			continue
		}
		for _, o := range vc.OverrideCheckIDs {
			overridden[o] = true
		}
		picked = append(picked, chosen{string(c.ID), vc})
	}
	checks := make([]pssCheck, 0, len(picked))
	for _, p := range picked {
		if overridden[psapolicy.CheckID(p.id)] {
			continue
		}
		checks = append(checks, pssCheck{id: pssPrefix + p.id, check: p.vc.CheckPod})
	}
	return checks
}

// revisionAt picks the newest revision whose MinimumVersion is not newer than version.
func revisionAt(versions []psapolicy.VersionedCheck, version psaapi.Version) (psapolicy.VersionedCheck, bool) {
	var found psapolicy.VersionedCheck
	ok := false
	for _, vc := range versions {
		if vc.MinimumVersion == (psaapi.Version{}) {
			continue // not assigned to a version: experimental
		}
		if version.Latest() || !version.Older(vc.MinimumVersion) {
			found, ok = vc, true
		}
	}
	return found, ok
}

// evalPSS runs one upstream check and attributes what it forbids: to the pod when the pod's
// own fields fail it, otherwise to each container that fails it alone.
func evalPSS(c pssCheck, tmpl *workload.PodTemplate, containers []workload.ContainerRef) []Violation {
	res := c.check(tmpl.Meta, tmpl.Spec)
	if res.Allowed {
		return nil
	}
	info := pssInfo(c.id)
	podOnly := *tmpl.Spec
	podOnly.Containers, podOnly.InitContainers, podOnly.EphemeralContainers = nil, nil, nil
	if r := c.check(tmpl.Meta, &podOnly); !r.Allowed {
		return []Violation{{Path: tmpl.Path + info.podField, Message: pssMessage(r)}}
	}
	var out []Violation
	for _, ref := range containers {
		one := podOnly
		switch ref.List {
		case workload.Containers:
			one.Containers = []corev1.Container{*ref.Container}
		case workload.InitContainers:
			one.InitContainers = []corev1.Container{*ref.Container}
		case workload.EphemeralContainers:
			one.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon(*ref.Container)}}
		}
		if r := c.check(tmpl.Meta, &one); !r.Allowed {
			out = append(out, containerViolation(ref, info.containerField, pssMessage(r)))
		}
	}
	if len(out) == 0 {
		// Only the combination fails; name the pod.
		out = append(out, Violation{Path: tmpl.Path, Message: pssMessage(res)})
	}
	return out
}

func pssMessage(r psapolicy.CheckResult) string {
	if r.ForbiddenDetail == "" {
		return r.ForbiddenReason
	}
	return fmt.Sprintf("%s: %s", r.ForbiddenReason, r.ForbiddenDetail)
}
