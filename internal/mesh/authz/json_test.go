package authz

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const examplePolicy = `{
  "defaultDeny": true,
  "rules": [
    {"name": "shop/frontend#0", "ports": [8080], "principals": ["spiffe://cluster.local/ns/shop/sa/frontend"]},
    {"name": "shop/jobs#0", "principals": ["spiffe://cluster.local/ns/jobs/*"], "provenance": ["ci"],
     "http": {"methods": ["GET", "HEAD"], "pathPrefixes": ["/api", "/static/"]}}
  ]
}`

func TestParse(t *testing.T) {
	got, err := Parse([]byte(examplePolicy))
	if err != nil {
		t.Fatal(err)
	}
	want := &Policy{DefaultDeny: true, Rules: []Rule{
		{Name: "shop/frontend#0", Ports: []uint16{8080}, Principals: []string{"spiffe://cluster.local/ns/shop/sa/frontend"}},
		{Name: "shop/jobs#0", Principals: []string{"spiffe://cluster.local/ns/jobs/*"}, Provenance: []string{"ci"},
			HTTP: &HTTPMatch{Methods: []string{"GET", "HEAD"}, PathPrefixes: []string{"/api", "/static/"}}},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Parse (-want +got):\n%s", diff)
	}
	// The JSON form round-trips.
	out, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(out)
	if err != nil {
		t.Fatalf("Parse(Marshal): %v\n%s", err, out)
	}
	if diff := cmp.Diff(got, again); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct{ name, in, wantErr string }{
		{"empty", ``, "JSON object"},
		{"null", `null`, "JSON object"},
		{"array", `[]`, "JSON object"},
		{"unknown field", `{"defaultdeny": true}`, "unknown field"},
		{"trailing data", `{} {}`, "data after"},
		{"port out of range", `{"rules":[{"name":"a","ports":[70000]}]}`, "cannot unmarshal"},
		{"port zero", `{"rules":[{"name":"a","ports":[0]}]}`, "port 0"},
		{"no name", `{"rules":[{"ports":[80]}]}`, "name must be"},
		{"control character in name", `{"rules":[{"name":"a\u0007"}]}`, "control"},
		{"principal is not a SPIFFE ID", `{"rules":[{"name":"a","principals":["shop/frontend"]}]}`, "principal"},
		{"key in another case", `{"rules":[{"Name":"a"}]}`, "unknown field"},
		{"duplicate key", `{"defaultDeny":true,"defaultDeny":false}`, "twice"},
		{"duplicate nested key", `{"rules":[{"name":"a","http":{"methods":["GET"],"methods":[]}}]}`, "twice"},
		{"rules not an array", `{"rules":{}}`, "array"},
		{"principal with upper-case trust domain", `{"rules":[{"name":"a","principals":["spiffe://Cluster.local/ns/shop/sa/x"]}]}`, "principal"},
		{"pattern beyond a namespace", `{"rules":[{"name":"a","principals":["spiffe://cluster.local/ns/shop/sa/*"]}]}`, "pattern"},
		{"pattern for a whole trust domain", `{"rules":[{"name":"a","principals":["spiffe://cluster.local/*"]}]}`, "pattern"},
		{"bare star", `{"rules":[{"name":"a","principals":["*"]}]}`, "principal"},
		{"empty provenance name", `{"rules":[{"name":"a","provenance":[""]}]}`, "provenance"},
		{"empty http", `{"rules":[{"name":"a","http":{}}]}`, "methods or pathPrefixes"},
		{"lower-case method", `{"rules":[{"name":"a","http":{"methods":["get"]}}]}`, "method"},
		{"relative prefix", `{"rules":[{"name":"a","http":{"pathPrefixes":["api"]}}]}`, "canonical"},
		{"dot segment in prefix", `{"rules":[{"name":"a","http":{"pathPrefixes":["/api/../x"]}}]}`, "canonical"},
		{"encoded prefix", `{"rules":[{"name":"a","http":{"pathPrefixes":["/a%20b"]}}]}`, "decoded"},
		{"query in prefix", `{"rules":[{"name":"a","http":{"pathPrefixes":["/a?b"]}}]}`, "canonical"},
		{"too big", `{"rules":[` + strings.Repeat(" ", MaxPolicySize) + `]}`, "bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse accepted %s: %+v", tt.in, p)
			}
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Errorf("error does not wrap ErrInvalidPolicy: %v", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestValidateLimits(t *testing.T) {
	p := &Policy{Rules: make([]Rule, MaxRules+1)}
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "rules") {
		t.Errorf("Validate with %d rules: %v", len(p.Rules), err)
	}
	if err := (*Policy)(nil).Validate(); err == nil {
		t.Error("nil policy validated")
	}
}
