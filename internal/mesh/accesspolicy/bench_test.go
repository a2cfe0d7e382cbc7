package accesspolicy

import (
	"fmt"
	"testing"

	"github.com/outrider-sec/outrider/api/v1alpha1"
)

// benchCluster is a large cluster: namespaces × pods workloads (10 ServiceAccounts and apps
// per namespace) and 5 policies per namespace, one of them with a cluster-wide podSelector.
func benchCluster(b *testing.B, namespaces, pods int) (World, []v1alpha1.AccessPolicy) {
	w := World{TrustDomain: td, Namespaces: map[string]map[string]string{}}
	var policies []v1alpha1.AccessPolicy
	for n := range namespaces {
		ns := fmt.Sprintf("ns-%d", n)
		w.Namespaces[ns] = map[string]string{"team": fmt.Sprintf("t%d", n%7)}
		for p := range pods {
			app := fmt.Sprintf("app-%d", p%10)
			w.Workloads = append(w.Workloads, wl(ns, fmt.Sprintf("%s-%d", app, p), app, "app", app, "tier", []string{"web", "api", "db"}[p%3]))
		}
		for k := range 5 {
			spec := fmt.Sprintf(`{selector: {matchLabels: {app: app-%d}}, ingress: [
				{from: [{podSelector: {matchLabels: {app: app-%d}}}, {serviceAccounts: [app-9, ns-0/app-1]}], ports: [{port: 8080}], http: {methods: [GET], pathPrefixes: [/api]}},
				{from: [{namespaceSelector: {matchLabels: {team: t%d}}}], ports: [{port: 9000, endPort: 9010}]}]}`, k, k+1, k)
			if k == 4 {
				spec = `{selector: {matchLabels: {tier: db}}, ingress: [{from: [{podSelector: {matchLabels: {tier: api}}, namespaceSelector: {}, provenance: [ci]}]}]}`
			}
			policies = append(policies, ap(b, ns, fmt.Sprintf("p-%d", k), spec))
		}
	}
	return w, policies
}

// BenchmarkCompile compiles 3,000 workloads in 60 namespaces against 300 policies: what the
// identity service does on every change.
func BenchmarkCompile(b *testing.B) {
	w, policies := benchCluster(b, 60, 50)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(w, policies); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChanged compares two compilations of the same cluster, one policy apart.
func BenchmarkChanged(b *testing.B) {
	w, policies := benchCluster(b, 60, 50)
	before, err := Compile(w, policies)
	if err != nil {
		b.Fatal(err)
	}
	policies[7].Spec.Ingress[0].Ports[0].Port = 8081
	after, err := Compile(w, policies)
	if err != nil {
		b.Fatal(err)
	}
	if n := len(Changed(before.Policies, after.Policies)); n != 5 {
		b.Fatalf("%d workloads changed, want 5", n)
	}
	b.ReportAllocs()
	for b.Loop() {
		Changed(before.Policies, after.Policies)
	}
}
