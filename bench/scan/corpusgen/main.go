// Command corpusgen writes a deterministic corpus of Kubernetes manifests for
// the scan benchmark (bench/scan/run.sh).
//
// The corpus imitates what a CI pipeline feeds `outrider scan`: rendered Helm
// charts (multi-document YAML with "# Source:" comments) plus a few hand-written
// single-document files. Object kinds follow a realistic mix (about 45%
// Deployments, then StatefulSets, DaemonSets, Jobs, CronJobs, bare Pods,
// ReplicaSets, and Services/ConfigMaps that carry no pod spec). Roughly 30% of
// the workloads satisfy the Pod Security Standards "restricted" profile; the
// rest carry security findings at rates seen in real clusters: privileged
// containers, host namespaces, hostPath volumes, added capabilities, root
// users, missing seccomp, unset allowPrivilegeEscalation, :latest or untagged
// images, missing resources, writable root filesystems, secrets in env values
// and an unset automountServiceAccountToken.
//
// The same --seed and --n always produce byte-identical files. Only the
// standard library is used, so the generator does not depend on the main
// module's requirements.
//
// Usage:
//
//	go run ./bench/scan/corpusgen --out bench/_out/corpus --n 10000 --seed 1
package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	out := flag.String("out", "bench/_out/corpus", "directory to write the corpus into (replaced if it exists)")
	n := flag.Int("n", 10000, "number of objects to generate")
	seed := flag.Uint64("seed", 1, "random seed; the same seed gives the same corpus")
	files := flag.Int("files", 100, "number of multi-document (rendered chart) files")
	singles := flag.Int("singles", 20, "number of single-document files (taken out of --n)")
	flag.Parse()

	if *n < 1 || *files < 1 || *singles < 0 || *singles >= *n {
		fmt.Fprintln(os.Stderr, "corpusgen: need n >= 1, files >= 1 and 0 <= singles < n")
		os.Exit(2)
	}
	if err := run(*out, *n, *seed, *files, *singles, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "corpusgen:", err)
		os.Exit(1)
	}
}

// run writes the corpus and a summary of what it holds to stats.
func run(out string, n int, seed uint64, files, singles int, stats io.Writer) error {
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	for _, d := range []string{"charts", "single"} {
		if err := os.MkdirAll(filepath.Join(out, d), 0o755); err != nil {
			return err
		}
	}
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), stats: map[string]int{}}

	multi := n - singles
	idx := 0
	for f := 0; f < files; f++ {
		// Spread the remainder over the first files so all n objects are written.
		count := multi / files
		if f < multi%files {
			count++
		}
		if count == 0 {
			continue
		}
		chart := charts[f%len(charts)]
		ns := namespaces[g.r.IntN(len(namespaces))]
		var b strings.Builder
		for j := 0; j < count; j++ {
			d := g.object(idx, chart, ns)
			idx++
			b.WriteString("---\n# Source: " + chart + "/templates/" + d.template + "\n")
			writeYAML(&b, d.body, 0)
		}
		name := filepath.Join(out, "charts", fmt.Sprintf("%03d-%s.yaml", f, chart))
		if err := os.WriteFile(name, []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	for s := 0; s < singles; s++ {
		chart := charts[g.r.IntN(len(charts))]
		ns := namespaces[g.r.IntN(len(namespaces))]
		d := g.object(idx, chart, ns)
		idx++
		var b strings.Builder
		b.WriteString("# Hand-written manifest, applied with kubectl apply -f.\n")
		writeYAML(&b, d.body, 0)
		name := filepath.Join(out, "single", fmt.Sprintf("%03d-%s-%s.yaml", s, strings.ToLower(d.kind), d.name))
		if err := os.WriteFile(name, []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	g.printStats(stats, idx)
	return nil
}

// doc is one generated object.
type doc struct {
	kind, name, template string
	body                 obj
}

// gen holds the random source and counts of what was generated.
type gen struct {
	r     *rand.Rand
	stats map[string]int
}

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

func (g *gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }

func (g *gen) count(what string) { g.stats[what]++ }

var (
	charts = []string{
		"payments", "checkout", "catalog", "search", "auth", "gateway", "notifications",
		"analytics", "ml-serving", "monitoring", "logging", "ingress-nginx", "kafka",
		"postgres", "redis", "etl", "billing", "reporting", "media", "inventory",
	}
	namespaces = []string{
		"default", "prod", "staging", "payments", "platform", "monitoring", "logging",
		"data", "ml", "web", "batch", "kube-system",
	}
	components = []string{
		"api", "worker", "frontend", "backend", "scheduler", "consumer", "indexer",
		"exporter", "cache", "sync", "cron", "migrator", "proxy", "webhook", "agent",
	}
)

// kindWeights is the share of each kind in the corpus, in percent.
var kindWeights = []struct {
	kind   string
	weight int
}{
	{"Deployment", 45}, {"StatefulSet", 9}, {"DaemonSet", 5}, {"Job", 6}, {"CronJob", 6},
	{"Pod", 7}, {"ReplicaSet", 4}, {"Service", 11}, {"ConfigMap", 7},
}

func (g *gen) kind() string {
	n := g.r.IntN(100)
	for _, kw := range kindWeights {
		if n < kw.weight {
			return kw.kind
		}
		n -= kw.weight
	}
	return "Deployment"
}

func (g *gen) object(i int, chart, ns string) doc {
	kind := g.kind()
	g.count("kind/" + kind)
	name := fmt.Sprintf("%s-%s-%05d", chart, g.pick(components), i)
	meta := obj{{"name", name}}
	if kind != "Pod" || g.chance(0.8) {
		meta.set("namespace", ns)
	}
	labels := obj{
		{"app.kubernetes.io/name", chart},
		{"app.kubernetes.io/instance", name},
		{"app.kubernetes.io/managed-by", "Helm"},
		{"helm.sh/chart", fmt.Sprintf("%s-%d.%d.%d", chart, 1+g.r.IntN(4), g.r.IntN(20), g.r.IntN(10))},
	}
	meta.set("labels", labels)
	if g.chance(0.3) {
		meta.set("annotations", obj{{"meta.helm.sh/release-name", chart}, {"meta.helm.sh/release-namespace", ns}})
	}
	selector := obj{{"app.kubernetes.io/name", chart}, {"app.kubernetes.io/instance", name}}

	switch kind {
	case "Service":
		ports := list{obj{{"name", "http"}, {"port", 80}, {"targetPort", "http"}, {"protocol", "TCP"}}}
		if g.chance(0.3) {
			ports = append(ports, obj{{"name", "metrics"}, {"port", 9090}, {"targetPort", 9090}})
		}
		typ := "ClusterIP"
		if g.chance(0.1) {
			typ = "LoadBalancer"
		}
		return doc{kind, name, "service.yaml", obj{
			{"apiVersion", "v1"}, {"kind", "Service"}, {"metadata", meta},
			{"spec", obj{{"type", typ}, {"selector", selector}, {"ports", ports}}},
		}}
	case "ConfigMap":
		data := obj{
			{"LOG_LEVEL", g.pick([]string{"info", "debug", "warn"})},
			{"FEATURE_FLAGS", "checkout-v2,fast-search"},
			{"app.yaml", "server:\n  port: 8080\n  timeout: 30s\n"},
		}
		return doc{kind, name, "configmap.yaml", obj{
			{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", meta}, {"data", data},
		}}
	}

	podSpec := g.podSpec(kind, chart, name)
	podMeta := obj{{"labels", selector}}
	if g.chance(0.4) {
		podMeta.set("annotations", obj{{"prometheus.io/scrape", "true"}, {"prometheus.io/port", "9090"}})
	}
	template := obj{{"metadata", podMeta}, {"spec", podSpec}}
	file := strings.ToLower(kind) + ".yaml"

	var apiVersion string
	spec := obj{}
	switch kind {
	case "Deployment":
		apiVersion = "apps/v1"
		spec.set("replicas", 1+g.r.IntN(6))
		spec.set("revisionHistoryLimit", 10)
		spec.set("selector", obj{{"matchLabels", selector}})
		if g.chance(0.5) {
			spec.set("strategy", obj{{"type", "RollingUpdate"}, {"rollingUpdate", obj{{"maxSurge", "25%"}, {"maxUnavailable", 0}}}})
		}
		spec.set("template", template)
	case "ReplicaSet":
		apiVersion = "apps/v1"
		spec.set("replicas", 1+g.r.IntN(3))
		spec.set("selector", obj{{"matchLabels", selector}})
		spec.set("template", template)
	case "StatefulSet":
		apiVersion = "apps/v1"
		spec.set("serviceName", name)
		spec.set("replicas", 1+g.r.IntN(3))
		spec.set("selector", obj{{"matchLabels", selector}})
		spec.set("template", template)
		spec.set("volumeClaimTemplates", list{obj{
			{"metadata", obj{{"name", "data"}}},
			{"spec", obj{
				{"accessModes", list{"ReadWriteOnce"}},
				{"resources", obj{{"requests", obj{{"storage", g.pick([]string{"1Gi", "10Gi", "50Gi"})}}}}},
			}},
		}})
	case "DaemonSet":
		apiVersion = "apps/v1"
		spec.set("selector", obj{{"matchLabels", selector}})
		spec.set("updateStrategy", obj{{"type", "RollingUpdate"}})
		spec.set("template", template)
	case "Job":
		apiVersion = "batch/v1"
		spec.set("backoffLimit", 3)
		spec.set("ttlSecondsAfterFinished", 3600)
		spec.set("template", template)
	case "CronJob":
		apiVersion = "batch/v1"
		spec.set("schedule", g.pick([]string{"*/15 * * * *", "0 3 * * *", "30 1 * * 0", "@hourly"}))
		spec.set("concurrencyPolicy", "Forbid")
		spec.set("successfulJobsHistoryLimit", 3)
		spec.set("jobTemplate", obj{{"spec", obj{{"backoffLimit", 2}, {"template", template}}}})
	case "Pod":
		// A bare pod: its own labels already carry the selector's.
		return doc{kind, name, "pod.yaml", obj{
			{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", meta}, {"spec", podSpec},
		}}
	}
	return doc{kind, name, file, obj{
		{"apiVersion", apiVersion}, {"kind", kind}, {"metadata", meta}, {"spec", spec},
	}}
}

// podSpec builds a pod spec; about 30% are compliant with the restricted
// profile and free of Outrider's default-on findings.
func (g *gen) podSpec(kind, chart, name string) obj {
	compliant := g.chance(0.30)
	node := kind == "DaemonSet" // node agents need host access far more often
	if compliant {
		g.count("pods/compliant")
	}
	spec := obj{}
	spec.set("serviceAccountName", chart)

	switch {
	case compliant:
		spec.set("automountServiceAccountToken", false)
	case g.chance(0.05):
		spec.set("automountServiceAccountToken", true)
		g.count("violation/automountServiceAccountToken=true")
	case g.chance(0.15):
		spec.set("automountServiceAccountToken", false)
	default:
		g.count("violation/automountServiceAccountToken unset")
	}

	if !compliant {
		if g.chance(pick(node, 0.45, 0.03)) {
			spec.set("hostNetwork", true)
			spec.set("dnsPolicy", "ClusterFirstWithHostNet")
			g.count("violation/hostNetwork")
		}
		if g.chance(pick(node, 0.20, 0.02)) {
			spec.set("hostPID", true)
			g.count("violation/hostPID")
		}
		if g.chance(0.01) {
			spec.set("hostIPC", true)
			g.count("violation/hostIPC")
		}
	}

	// Pod-level security context.
	psc := obj{}
	if compliant {
		psc.set("runAsNonRoot", true)
		psc.set("runAsUser", 10001)
		psc.set("runAsGroup", 10001)
		psc.set("fsGroup", 10001)
		psc.set("seccompProfile", obj{{"type", g.pick([]string{"RuntimeDefault", "RuntimeDefault", "Localhost"})}})
		if psc[len(psc)-1].V.(obj)[0].V == "Localhost" {
			psc[len(psc)-1].V = obj{{"type", "Localhost"}, {"localhostProfile", "profiles/audit.json"}}
		}
	} else if g.chance(0.6) {
		if g.chance(0.4) {
			psc.set("runAsNonRoot", true)
		}
		if g.chance(0.08) {
			psc.set("runAsUser", 0)
			g.count("violation/runAsUser 0 (pod)")
		} else if g.chance(0.5) {
			psc.set("runAsUser", 1000)
		}
		if g.chance(0.4) {
			psc.set("fsGroup", 2000)
		}
		if g.chance(0.4) {
			psc.set("seccompProfile", obj{{"type", "RuntimeDefault"}})
		} else if g.chance(0.03) {
			psc.set("seccompProfile", obj{{"type", "Unconfined"}})
			g.count("violation/seccomp Unconfined")
		}
	}
	if len(psc) > 0 || g.chance(0.5) {
		spec.set("securityContext", psc)
	}

	// Volumes shared by containers.
	volumes := list{
		obj{{"name", "config"}, {"configMap", obj{{"name", name + "-config"}}}},
		obj{{"name", "tmp"}, {"emptyDir", obj{}}},
	}
	if g.chance(0.4) {
		volumes = append(volumes, obj{{"name", "tls"}, {"secret", obj{{"secretName", name + "-tls"}}}})
	}
	hostPath := !compliant && g.chance(pick(node, 0.60, 0.05))
	if hostPath {
		g.count("violation/hostPath volume")
		p := g.pick([]string{"/var/log", "/var/run/docker.sock", "/proc", "/sys", "/etc/kubernetes", "/var/lib/kubelet"})
		volumes = append(volumes, obj{{"name", "host"}, {"hostPath", obj{{"path", p}, {"type", ""}}}})
	}
	if kind == "Deployment" && g.chance(0.1) {
		volumes = append(volumes, obj{{"name", "data"}, {"persistentVolumeClaim", obj{{"claimName", name + "-data"}}}})
	}

	if g.chance(0.2) {
		spec.set("initContainers", list{g.container(compliant, node, "init", name, volumes, hostPath, false)})
	}
	n := 1
	switch r := g.r.IntN(10); {
	case r >= 9:
		n = 3
	case r >= 6:
		n = 2
	}
	cs := list{}
	for c := 0; c < n; c++ {
		role := "main"
		if c > 0 {
			role = g.pick([]string{"sidecar", "metrics", "log-shipper"})
		}
		cs = append(cs, g.container(compliant, node, role, name, volumes, hostPath, c == 0))
	}
	spec.set("containers", cs)
	spec.set("volumes", volumes)

	switch kind {
	case "Job", "CronJob":
		spec.set("restartPolicy", g.pick([]string{"Never", "OnFailure"}))
	default:
		if g.chance(0.3) {
			spec.set("terminationGracePeriodSeconds", 30)
		}
	}
	if g.chance(0.3) {
		spec.set("nodeSelector", obj{{"kubernetes.io/os", "linux"}})
	}
	if g.chance(0.2) {
		spec.set("tolerations", list{obj{{"key", "dedicated"}, {"operator", "Equal"}, {"value", chart}, {"effect", "NoSchedule"}}})
	}
	return spec
}

func pick(cond bool, a, b float64) float64 {
	if cond {
		return a
	}
	return b
}

var images = []struct{ repo, tag string }{
	{"docker.io/library/nginx", "1.27.2"},
	{"docker.io/library/redis", "7.4.1"},
	{"docker.io/library/postgres", "16.4"},
	{"docker.io/library/busybox", "1.36"},
	{"docker.io/library/python", "3.12-slim"},
	{"nginx", "1.27.2-alpine"},
	{"redis", "7.4.1-alpine"},
	{"alpine", "3.20"},
	{"ghcr.io/acme/api", "v2.14.0"},
	{"ghcr.io/acme/worker", "v2.14.0"},
	{"ghcr.io/acme/frontend", "v5.3.1"},
	{"quay.io/prometheus/node-exporter", "v1.8.2"},
	{"quay.io/prometheus/prometheus", "v2.54.1"},
	{"quay.io/jetstack/cert-manager-controller", "v1.15.3"},
	{"registry.example.com/payments/ledger", "2024.10.3"},
	{"registry.example.com/platform/envoy", "v1.31.2"},
	{"registry.example.com/data/etl", "1.9.0"},
	{"gcr.io/distroless/static", "nonroot"},
	{"registry.k8s.io/ingress-nginx/controller", "v1.11.3"},
	{"fluent/fluent-bit", "3.1.9"},
}

func (g *gen) image(compliant bool) string {
	im := images[g.r.IntN(len(images))]
	switch {
	case compliant && g.chance(0.3):
		return fmt.Sprintf("%s@sha256:%016x%016x%016x%016x", im.repo, g.r.Uint64(), g.r.Uint64(), g.r.Uint64(), g.r.Uint64())
	case compliant:
		return im.repo + ":" + im.tag
	case g.chance(0.08):
		g.count("violation/image :latest")
		return im.repo + ":latest"
	case g.chance(0.05):
		g.count("violation/image without tag")
		return im.repo
	case g.chance(0.1):
		return fmt.Sprintf("%s:%s@sha256:%016x%016x%016x%016x", im.repo, im.tag, g.r.Uint64(), g.r.Uint64(), g.r.Uint64(), g.r.Uint64())
	}
	return im.repo + ":" + im.tag
}

var secretEnv = []struct{ name, value string }{
	{"PASSWORD", "hunter2"},
	{"DB_PASSWORD", "s3cr3t-Pa55w0rd"},
	{"API_KEY", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"},
	{"AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
	{"GITHUB_TOKEN", "ghp_16C7e42F292c6912E7710c838347Ae178B4a"},
}

func (g *gen) container(compliant, node bool, role, name string, volumes list, hostPath, mainContainer bool) obj {
	c := obj{}
	cname := role
	if role == "main" {
		cname = strings.SplitN(name, "-", 2)[0]
	}
	c.set("name", cname)
	c.set("image", g.image(compliant))
	c.set("imagePullPolicy", g.pick([]string{"IfNotPresent", "IfNotPresent", "Always"}))
	switch role {
	case "init":
		c.set("command", list{"/bin/sh", "-c", "until nc -z db 5432; do echo waiting for db; sleep 2; done"})
	case "log-shipper":
		c.set("args", list{"--config=/etc/fluent-bit/fluent-bit.conf"})
	}

	if role != "init" {
		port := obj{{"name", "http"}, {"containerPort", 8080}, {"protocol", "TCP"}}
		if role == "metrics" {
			port = obj{{"name", "metrics"}, {"containerPort", 9090}, {"protocol", "TCP"}}
		}
		if !compliant && mainContainer && g.chance(pick(node, 0.3, 0.03)) {
			port.set("hostPort", 8080)
			g.count("violation/hostPort")
		}
		c.set("ports", list{port})
	}

	env := list{
		obj{{"name", "POD_NAME"}, {"valueFrom", obj{{"fieldRef", obj{{"fieldPath", "metadata.name"}}}}}},
		obj{{"name", "LOG_LEVEL"}, {"value", "info"}},
		obj{{"name", "PORT"}, {"value", "8080"}},
	}
	if g.chance(0.4) {
		env = append(env, obj{{"name", "DATABASE_PASSWORD"}, {"valueFrom", obj{{"secretKeyRef", obj{{"name", name + "-db"}, {"key", "password"}}}}}})
	}
	if !compliant && g.chance(0.04) {
		s := secretEnv[g.r.IntN(len(secretEnv))]
		env = append(env, obj{{"name", s.name}, {"value", s.value}})
		g.count("violation/secret in env value")
	}
	c.set("env", env)
	if g.chance(0.2) {
		c.set("envFrom", list{obj{{"configMapRef", obj{{"name", name + "-env"}}}}})
	}

	// Resources.
	switch {
	case compliant || g.chance(0.5):
		c.set("resources", obj{
			{"requests", obj{{"cpu", g.pick([]string{"50m", "100m", "250m", "500m"})}, {"memory", g.pick([]string{"64Mi", "128Mi", "256Mi", "1Gi"})}}},
			{"limits", obj{{"cpu", g.pick([]string{"500m", "1", "2"})}, {"memory", g.pick([]string{"256Mi", "512Mi", "2Gi"})}}},
		})
	case g.chance(0.5):
		c.set("resources", obj{{"requests", obj{{"cpu", "100m"}, {"memory", "128Mi"}}}})
		g.count("violation/no resource limits")
	default:
		if g.chance(0.5) {
			c.set("resources", obj{})
		}
		g.count("violation/no resources")
	}

	if mainContainer && g.chance(0.7) {
		c.set("livenessProbe", obj{
			{"httpGet", obj{{"path", "/healthz"}, {"port", "http"}}},
			{"initialDelaySeconds", 10}, {"periodSeconds", 10}, {"failureThreshold", 3},
		})
		c.set("readinessProbe", obj{
			{"httpGet", obj{{"path", "/ready"}, {"port", "http"}}},
			{"periodSeconds", 5},
		})
	}

	mounts := list{
		obj{{"name", "config"}, {"mountPath", "/etc/" + strings.SplitN(name, "-", 2)[0]}, {"readOnly", true}},
		obj{{"name", "tmp"}, {"mountPath", "/tmp"}},
	}
	if hostPath && mainContainer {
		mounts = append(mounts, obj{{"name", "host"}, {"mountPath", "/host"}, {"readOnly", g.chance(0.5)}})
	}
	c.set("volumeMounts", mounts)

	// Container security context.
	sc := obj{}
	if compliant {
		sc.set("allowPrivilegeEscalation", false)
		sc.set("readOnlyRootFilesystem", true)
		sc.set("runAsNonRoot", true)
		caps := obj{{"drop", list{"ALL"}}}
		if g.chance(0.1) {
			caps.set("add", list{"NET_BIND_SERVICE"})
		}
		sc.set("capabilities", caps)
		c.set("securityContext", sc)
		return c
	}
	if g.chance(0.35) {
		g.count("violation/container securityContext absent")
		return c
	}
	if g.chance(pick(node, 0.25, 0.04)) {
		sc.set("privileged", true)
		g.count("violation/privileged")
	}
	switch {
	case g.chance(0.05):
		sc.set("allowPrivilegeEscalation", true)
		g.count("violation/allowPrivilegeEscalation=true")
	case g.chance(0.5):
		sc.set("allowPrivilegeEscalation", false)
	default:
		g.count("violation/allowPrivilegeEscalation unset")
	}
	switch {
	case g.chance(0.3):
		sc.set("readOnlyRootFilesystem", true)
	case g.chance(0.15):
		sc.set("readOnlyRootFilesystem", false)
	}
	if g.chance(0.05) {
		sc.set("runAsUser", 0)
		g.count("violation/runAsUser 0 (container)")
	} else if g.chance(0.3) {
		sc.set("runAsNonRoot", true)
	}
	caps := obj{}
	if g.chance(0.3) {
		caps.set("drop", list{"ALL"})
	}
	switch {
	case g.chance(pick(node, 0.3, 0.03)):
		caps.set("add", list{"NET_ADMIN"})
		g.count("violation/capability NET_ADMIN")
	case g.chance(0.02):
		caps.set("add", list{"SYS_ADMIN"})
		g.count("violation/capability SYS_ADMIN")
	case g.chance(0.02):
		caps.set("add", list{"NET_RAW", "SYS_PTRACE"})
		g.count("violation/capability NET_RAW+SYS_PTRACE")
	}
	if len(caps) > 0 {
		sc.set("capabilities", caps)
	}
	c.set("securityContext", sc)
	return c
}

func (g *gen) printStats(w io.Writer, total int) {
	keys := make([]string, 0, len(g.stats))
	for k := range g.stats {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(w, "corpusgen: %d objects\n", total)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-48s %6d\n", k, g.stats[k])
	}
}
