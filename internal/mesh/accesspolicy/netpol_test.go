package accesspolicy

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/outrider-sec/outrider/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestNetPolGolden renders each testdata/netpol/*.yaml into its .golden file.
func TestNetPolGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/netpol/*.yaml")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			policies, err := Decode(in, data, "default")
			if err != nil {
				t.Fatal(err)
			}
			rendered, err := RenderNetworkPolicies(policies)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := WriteNetworkPolicies(&buf, rendered); err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(in, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if diff := cmp.Diff(string(want), buf.String()); diff != "" {
				t.Errorf("%s (-want +got):\n%s", golden, diff)
			}
			checkNetworkPolicies(t, buf.Bytes(), len(rendered))
		})
	}
}

// checkNetworkPolicies decodes the stream back strictly as NetworkPolicies and checks what no
// rendering may ever do: an ingress rule with a from list that is present but empty cannot be
// written (it would read back as "from everywhere"), so every rule's from is either absent on
// purpose or non-empty.
func checkNetworkPolicies(t *testing.T, stream []byte, n int) {
	t.Helper()
	docs := strings.Split(string(stream), "\n---\n")[1:]
	if len(docs) != n {
		t.Fatalf("%d documents, want %d", len(docs), n)
	}
	for _, doc := range docs {
		var np networkingv1.NetworkPolicy
		if err := yaml.UnmarshalStrict([]byte(doc), &np); err != nil {
			t.Fatalf("not a NetworkPolicy: %v\n%s", err, doc)
		}
		if msgs := validation.IsDNS1123Subdomain(np.Name); len(msgs) > 0 || np.Kind != "NetworkPolicy" {
			t.Errorf("NetworkPolicy %q: %v", np.Name, msgs)
		}
		for _, rule := range np.Spec.Ingress {
			for _, p := range rule.From {
				if p.PodSelector == nil && p.NamespaceSelector == nil && p.IPBlock == nil {
					t.Errorf("%s: a peer with no selector", np.Name)
				}
			}
		}
	}
}

// A rule whose every peer is impossible must be left out, never rendered with an empty from,
// which a NetworkPolicy reads as "from every source".
func TestAttackNetPolImpossiblePeersOpenThePort(t *testing.T) {
	p := ap(t, "shop", "p", `{ingress: [{from: [{serviceAccounts: [jobs/batch], namespaces: [shop]}], ports: [{port: 5432}]}]}`)
	r, err := RenderNetworkPolicy(&p)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Policy.Spec.Ingress) != 0 {
		t.Errorf("ingress %+v, want none", r.Policy.Spec.Ingress)
	}
	// Without ingress rules, policyTypes [Ingress] is what makes the NetworkPolicy deny all.
	if diff := cmp.Diff([]networkingv1.PolicyType{networkingv1.PolicyTypeIngress}, r.Policy.Spec.PolicyTypes); diff != "" {
		t.Errorf("policyTypes (-want +got):\n%s", diff)
	}
}

func TestNetPolRefusesInvalidPolicies(t *testing.T) {
	policies := []v1alpha1.AccessPolicy{ap(t, "shop", "good", `{}`), ap(t, "shop", "bad", `{ingress: [{ports: [{port: 0}]}]}`)}
	rendered, err := RenderNetworkPolicies(policies)
	if err == nil || !strings.Contains(err.Error(), "AccessPolicy shop/bad is invalid: spec.ingress[0].ports[0].port: Invalid value: 0") {
		t.Errorf("error %v", err)
	}
	if len(rendered) != 1 || rendered[0].Source.Name != "good" {
		t.Errorf("rendered %+v, want shop/good alone", rendered)
	}
}

func TestNetPolOwnerReference(t *testing.T) {
	p := ap(t, "shop", "p", `{}`)
	p.UID = "1234"
	r, err := RenderNetworkPolicy(&p)
	if err != nil {
		t.Fatal(err)
	}
	refs := r.Policy.OwnerReferences
	if len(refs) != 1 || refs[0].UID != "1234" || refs[0].Kind != "AccessPolicy" || refs[0].APIVersion != "security.outrider.dev/v1alpha1" || !*refs[0].Controller {
		t.Errorf("owner references %+v", refs)
	}
}

func TestNetPolName(t *testing.T) {
	long := strings.Repeat("a", 250)
	got := netPolName(long)
	if len(got) != validation.DNS1123SubdomainMaxLength || len(validation.IsDNS1123Subdomain(got)) > 0 || got == netPolName(long+"b") {
		t.Errorf("netPolName(long) = %q", got)
	}
	if netPolName("web") != "outrider-web" {
		t.Error(netPolName("web"))
	}
}
