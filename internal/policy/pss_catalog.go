package policy

// pssEntry describes an upstream Pod Security Standards check for Outrider's catalogue: the
// upstream check decides; this says how severe it is, what to change and where.
type pssEntry struct {
	title       string
	severity    Severity
	remediation string
	// podField is appended to the pod spec's path (it starts with "."); containerField is a
	// field of the container (no leading ".").
	podField, containerField string
}

// pssCatalog lists the upstream checks Outrider knows how to describe. An upstream check
// missing here still runs, with the generic entry below.
var pssCatalog = map[string]pssEntry{
	"privileged":                 {"Privileged containers", SeverityCritical, "Remove securityContext.privileged or set it to false.", "", "securityContext.privileged"},
	"hostNamespaces":             {"Host namespaces", SeverityCritical, "Remove hostNetwork, hostPID and hostIPC from the pod spec.", "", ""},
	"windowsHostProcess":         {"Windows HostProcess containers", SeverityCritical, "Remove windowsOptions.hostProcess.", ".securityContext.windowsOptions", "securityContext.windowsOptions"},
	"hostPathVolumes":            {"hostPath volumes", SeverityHigh, "Replace hostPath volumes with emptyDir, configMap, secret or a PersistentVolumeClaim.", ".volumes", ""},
	"capabilities_baseline":      {"Non-default capabilities", SeverityHigh, "Remove the added capabilities from securityContext.capabilities.add.", "", "securityContext.capabilities"},
	"hostPorts":                  {"Host ports", SeverityMedium, "Remove hostPort from the container's ports; expose it with a Service.", "", "ports"},
	"hostProbesAndHostLifecycle": {"Probes and lifecycle hooks on the host", SeverityMedium, "Remove the host field from probes and lifecycle handlers.", "", ""},
	"appArmorProfile":            {"AppArmor profile", SeverityHigh, "Use the RuntimeDefault or a Localhost AppArmor profile, never Unconfined.", ".securityContext.appArmorProfile", "securityContext.appArmorProfile"},
	"seLinuxOptions":             {"SELinux options", SeverityHigh, "Remove seLinuxOptions.user and .role, and use an allowed type.", ".securityContext.seLinuxOptions", "securityContext.seLinuxOptions"},
	"procMount":                  {"/proc mount type", SeverityHigh, "Remove securityContext.procMount or set it to Default.", "", "securityContext.procMount"},
	"seccompProfile_baseline":    {"Seccomp profile (baseline)", SeverityHigh, "Do not set seccompProfile.type to Unconfined.", ".securityContext.seccompProfile", "securityContext.seccompProfile"},
	"sysctls":                    {"Unsafe sysctls", SeverityHigh, "Remove sysctls outside the safe set from securityContext.sysctls.", ".securityContext.sysctls", ""},
	"allowPrivilegeEscalation":   {"Privilege escalation", SeverityHigh, "Set securityContext.allowPrivilegeEscalation to false.", "", "securityContext.allowPrivilegeEscalation"},
	"capabilities_restricted":    {"Capabilities (restricted)", SeverityMedium, "Set securityContext.capabilities.drop to [\"ALL\"] and add at most NET_BIND_SERVICE.", "", "securityContext.capabilities"},
	"restrictedVolumes":          {"Volume types", SeverityMedium, "Use only configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected and secret volumes.", ".volumes", ""},
	"runAsNonRoot":               {"Running as root", SeverityHigh, "Set securityContext.runAsNonRoot to true on the pod or on every container.", ".securityContext.runAsNonRoot", "securityContext.runAsNonRoot"},
	"runAsUser":                  {"Running as UID 0", SeverityHigh, "Set securityContext.runAsUser to a non-zero UID.", ".securityContext.runAsUser", "securityContext.runAsUser"},
	"seccompProfile_restricted":  {"Seccomp profile (restricted)", SeverityMedium, "Set securityContext.seccompProfile.type to RuntimeDefault (or Localhost) on the pod.", ".securityContext.seccompProfile", "securityContext.seccompProfile"},
}

func pssInfo(id string) pssEntry {
	if e, ok := pssCatalog[id[len(pssPrefix):]]; ok {
		return e
	}
	return pssEntry{title: id, severity: SeverityHigh, remediation: "Meet the Pod Security Standards check " + id[len(pssPrefix):] + "."}
}
