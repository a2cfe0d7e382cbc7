package policy

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/outrider-sec/outrider/internal/workload"
)

// container.resources: containers declare what they need and cap their memory.
//
// Restricted: resources of containers and initContainers (ephemeral containers cannot set
// resources). Required: requests.cpu, requests.memory and limits.memory. A CPU limit is not
// required: it throttles bursty services without protecting the node, which requests already do.
var checkResources = &Check{
	ID:          "container.resources",
	Title:       "Resource requests and memory limit",
	Severity:    SeverityLow,
	Remediation: "Set resources.requests.cpu, resources.requests.memory and resources.limits.memory.",
	DefaultOn:   true,
	Eval: func(in *Input) []Violation {
		var out []Violation
		for _, c := range in.Containers {
			if c.List == workload.EphemeralContainers {
				continue
			}
			var missing []string
			r := c.Container.Resources
			if _, ok := r.Requests[corev1.ResourceCPU]; !ok {
				missing = append(missing, "requests.cpu")
			}
			if _, ok := r.Requests[corev1.ResourceMemory]; !ok {
				missing = append(missing, "requests.memory")
			}
			if _, ok := r.Limits[corev1.ResourceMemory]; !ok {
				missing = append(missing, "limits.memory")
			}
			if len(missing) > 0 {
				out = append(out, containerViolation(c, "resources", fmt.Sprintf(
					"container %q does not set %s", c.Container.Name, strings.Join(missing, ", "))))
			}
		}
		return out
	},
}
