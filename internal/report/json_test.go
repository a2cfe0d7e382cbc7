package report

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outrider-sec/outrider/internal/policy"
)

func renderJSON(t *testing.T, r *Result) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, "json", r, Options{}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

func TestJSONRoundTrips(t *testing.T) {
	r := richResult()
	var got jsonReport
	dec := json.NewDecoder(bytes.NewReader(renderJSON(t, r)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("decoding: %v", err)
	}
	want := jsonReport{Findings: r.Findings, Errors: r.Errors, Summary: r.Summary}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestJSONShape(t *testing.T) {
	out := renderJSON(t, richResult())
	if !strings.HasPrefix(string(out), "{\n  \"findings\": [\n    {\n      \"check\": ") {
		t.Errorf("not indented by two spaces, or keys out of order:\n%.80s", out)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(out, &top); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range top {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if diff := cmp.Diff([]string{"errors", "findings", "summary"}, keys); diff != "" {
		t.Errorf("top-level keys (-want +got):\n%s", diff)
	}
	var findings []map[string]any
	if err := json.Unmarshal(top["findings"], &findings); err != nil {
		t.Fatal(err)
	}
	wantKeys := []string{"check", "severity", "mode", "policy", "resource", "container", "path",
		"message", "remediation", "file", "line", "suppressed"}
	got := map[string]bool{}
	for _, f := range findings {
		for k := range f {
			got[k] = true
		}
		res, _ := f["resource"].(map[string]any)
		for _, k := range []string{"apiVersion", "kind", "namespace", "name"} {
			if _, ok := res[k]; !ok {
				t.Errorf("finding %v: resource has no %q", f["check"], k)
			}
		}
	}
	for _, k := range wantKeys {
		if !got[k] {
			t.Errorf("no finding has the key %q", k)
		}
	}
}

// TestJSONEmptyListsAreArrays: nil and empty slices and a nil severity map never become null.
func TestJSONEmptyListsAreArrays(t *testing.T) {
	for name, r := range map[string]*Result{
		"zero":       {},
		"empty":      emptyResult(),
		"no errors":  passResult(),
		"nil errors": {Findings: failResult().Findings},
	} {
		t.Run(name, func(t *testing.T) {
			out := string(renderJSON(t, r))
			if strings.Contains(out, "null") {
				t.Errorf("output contains null:\n%s", out)
			}
			if len(r.Findings) == 0 && !strings.Contains(out, `"findings": []`) {
				t.Errorf("empty findings are not []:\n%s", out)
			}
			if len(r.Errors) == 0 && !strings.Contains(out, `"errors": []`) {
				t.Errorf("empty errors are not []:\n%s", out)
			}
			if !strings.HasSuffix(out, "}\n") {
				t.Errorf("no trailing newline")
			}
		})
	}
}

func TestJSONKeepsMessagesReadable(t *testing.T) {
	r := newResult().object("Pod", "p", "p.yaml", 1,
		finding("image.latest", policy.SeverityMedium, msg(`image "<none>" & co`))).build(1, policy.SeverityHigh)
	if out := string(renderJSON(t, r)); !strings.Contains(out, `image \"<none>\" & co`) {
		t.Errorf("message was HTML-escaped:\n%s", out)
	}
}

func TestDropNulls(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{}`, `{}`},
		{`[]`, `[]`},
		{`null`, `null`},
		{`{"a":null}`, `{}`},
		{`{"a":1,"b":null,"c":"x"}`, `{"a":1,"c":"x"}`},
		{`{"z":null,"y":{"x":null,"w":[null,{"v":null,"u":true}]}}`, `{"y":{"w":[null,{"u":true}]}}`},
		{`{"b":2,"a":1}`, `{"b":2,"a":1}`},
		{`{"n":1.50,"big":12345678901234567890}`, `{"n":1.50,"big":12345678901234567890}`},
		{`{"s":"<a href=\"x\">&amp;</a>\n"}`, `{"s":"<a href=\"x\">&amp;</a>\n"}`},
	}
	for _, tt := range tests {
		got, err := dropNulls([]byte(tt.in))
		if err != nil {
			t.Errorf("dropNulls(%s): %v", tt.in, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("dropNulls(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{``, `{`, `{"a":}`, `[1,`} {
		if _, err := dropNulls([]byte(bad)); err == nil {
			t.Errorf("dropNulls(%q) accepted invalid JSON", bad)
		}
	}
}
