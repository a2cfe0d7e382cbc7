package admission

import (
	"context"
	"fmt"
	"slices"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
)

// PodGetter reads a pod.
type PodGetter interface {
	Pod(ctx context.Context, namespace, name string) (*corev1.Pod, error)
}

// ConnectDecider guards exec, attach and port-forward: a shell in a privileged pod, or in a pod
// that shares a host namespace, is a shell on the node (the old DenyEscalatingExec).
type ConnectDecider struct {
	Pods PodGetter
	// ExemptGroups may connect to any pod (break-glass for node operators).
	ExemptGroups []string
}

// Decide refuses a CONNECT to an escalating pod unless the user is in an exempt group. A pod
// that cannot be read is refused: the guard fails closed.
func (d *ConnectDecider) Decide(ctx context.Context, req *admissionv1.AdmissionRequest) (*Decision, error) {
	for _, g := range req.UserInfo.Groups {
		if slices.Contains(d.ExemptGroups, g) {
			return &Decision{Allowed: true, Warnings: []string{fmt.Sprintf("outrider: %s allowed for exempt group %q", req.SubResource, g)}}, nil
		}
	}
	pod, err := d.Pods.Pod(ctx, req.Namespace, req.Name)
	if err != nil {
		return nil, fmt.Errorf("reading pod %s/%s: %w", req.Namespace, req.Name, err)
	}
	if reasons := escalations(pod); len(reasons) > 0 {
		return &Decision{Allowed: false, Message: fmt.Sprintf(
			"outrider refused %s into pod %s/%s: the pod %s, so a session in it reaches the node; ask a member of an exempt group (%s)",
			req.SubResource, req.Namespace, req.Name, strings.Join(reasons, " and "), exemptList(d.ExemptGroups))}, nil
	}
	return &Decision{Allowed: true}, nil
}

// escalations lists what makes a session in pod a session on its node.
func escalations(pod *corev1.Pod) []string {
	var r []string
	var hosts []string
	if pod.Spec.HostNetwork {
		hosts = append(hosts, "network")
	}
	if pod.Spec.HostPID {
		hosts = append(hosts, "PID")
	}
	if pod.Spec.HostIPC {
		hosts = append(hosts, "IPC")
	}
	if len(hosts) > 0 {
		r = append(r, "shares the host's "+strings.Join(hosts, ", ")+" namespace")
	}
	var priv []string
	check := func(name string, sc *corev1.SecurityContext) {
		if sc != nil && sc.Privileged != nil && *sc.Privileged {
			priv = append(priv, fmt.Sprintf("%q", name))
		}
	}
	for _, c := range pod.Spec.Containers {
		check(c.Name, c.SecurityContext)
	}
	for _, c := range pod.Spec.InitContainers {
		check(c.Name, c.SecurityContext)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		check(c.Name, c.SecurityContext)
	}
	if len(priv) > 0 {
		r = append(r, "runs privileged containers ("+strings.Join(priv, ", ")+")")
	}
	return r
}

func exemptList(groups []string) string {
	if len(groups) == 0 {
		return "none configured"
	}
	return strings.Join(groups, ", ")
}
