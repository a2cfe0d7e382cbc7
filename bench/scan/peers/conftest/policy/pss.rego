# Pod Security Standards checks for conftest, written for the scan benchmark.
#
# The same controls as bench/scan/peers/gator/templates.yaml (privileged, host
# namespaces, hostPath, host ports, capabilities, runAsNonRoot/runAsUser 0,
# allowPrivilegeEscalation, seccomp), applied to Pods and every pod-template
# workload. conftest evaluates each YAML document as its own input.
package main

import rego.v1

workload_kinds := {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}

is_workload if workload_kinds[input.kind]

spec := input.spec if input.kind == "Pod"

spec := input.spec.jobTemplate.spec.template.spec if input.kind == "CronJob"

spec := input.spec.template.spec if {
	is_workload
	not input.kind in {"Pod", "CronJob"}
}

# Every container: containers, initContainers and ephemeralContainers.
containers contains c if some c in spec.containers

containers contains c if some c in spec.initContainers

containers contains c if some c in spec.ephemeralContainers

name := sprintf("%v %v/%v", [input.kind, object.get(input.metadata, "namespace", "default"), input.metadata.name])

# --- baseline ---------------------------------------------------------------

deny contains msg if {
	some c in containers
	c.securityContext.privileged == true
	msg := sprintf("%v: container %v is privileged", [name, c.name])
}

deny contains msg if {
	some ns in ["hostNetwork", "hostPID", "hostIPC"]
	spec[ns] == true
	msg := sprintf("%v: %v is true", [name, ns])
}

deny contains msg if {
	some v in spec.volumes
	v.hostPath
	msg := sprintf("%v: volume %v is a hostPath (%v)", [name, v.name, v.hostPath.path])
}

deny contains msg if {
	some c in containers
	some p in c.ports
	object.get(p, "hostPort", 0) != 0
	msg := sprintf("%v: container %v uses hostPort %v", [name, c.name, p.hostPort])
}

# --- restricted -------------------------------------------------------------

deny contains msg if {
	some c in containers
	some cap in c.securityContext.capabilities.add
	cap != "NET_BIND_SERVICE"
	msg := sprintf("%v: container %v adds capability %v", [name, c.name, cap])
}

deny contains msg if {
	some c in containers
	not "ALL" in object.get(c, ["securityContext", "capabilities", "drop"], [])
	msg := sprintf("%v: container %v does not drop ALL capabilities", [name, c.name])
}

deny contains msg if {
	some c in containers
	not non_root(c)
	msg := sprintf("%v: container %v does not set runAsNonRoot: true", [name, c.name])
}

deny contains msg if {
	some c in containers
	c.securityContext.runAsNonRoot == false
	msg := sprintf("%v: container %v sets runAsNonRoot: false", [name, c.name])
}

deny contains msg if {
	spec.securityContext.runAsUser == 0
	msg := sprintf("%v: pod runs as user 0", [name])
}

deny contains msg if {
	some c in containers
	c.securityContext.runAsUser == 0
	msg := sprintf("%v: container %v runs as user 0", [name, c.name])
}

non_root(c) if c.securityContext.runAsNonRoot == true

non_root(c) if {
	spec.securityContext.runAsNonRoot == true
	not c.securityContext.runAsNonRoot == false
}

deny contains msg if {
	some c in containers
	not c.securityContext.allowPrivilegeEscalation == false
	msg := sprintf("%v: container %v does not set allowPrivilegeEscalation: false", [name, c.name])
}

seccomp_allowed := {"RuntimeDefault", "Localhost"}

deny contains msg if {
	some c in containers
	not seccomp_ok(c)
	msg := sprintf("%v: container %v has no RuntimeDefault or Localhost seccomp profile", [name, c.name])
}

seccomp_ok(c) if seccomp_allowed[c.securityContext.seccompProfile.type]

seccomp_ok(c) if {
	not c.securityContext.seccompProfile
	seccomp_allowed[spec.securityContext.seccompProfile.type]
}
