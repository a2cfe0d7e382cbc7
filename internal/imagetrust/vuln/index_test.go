package vuln

import (
	"testing"
	"time"

	"github.com/outrider-sec/outrider/internal/imageref"
)

func TestIndexLookup(t *testing.T) {
	const other = "sha256:d399067903e5fe9b002728c17a49bb31c57d01405748ecbbd4b7d3564f6e3d8c"
	const third = "sha256:4b5e57f6eb2f42b9039b3d1e13929295f231749c510cbe341cd68036d9af97e2"
	day := func(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }
	rep := func(name, digest string, at time.Time) *EvaluatedReport {
		return &EvaluatedReport{Report: &Report{Artifact: Artifact{Name: name, Digest: digest}, CreatedAt: at}, Source: name + "@" + at.Format("02")}
	}
	x := NewIndex([]*EvaluatedReport{
		rep("registry.example.com/shop/api:1.4.2", apiDigest, day(20)),
		rep("registry.example.com/shop/api:1.4.2", "", day(21)),
		rep("registry.example.com/shop/web", "", day(19)),
		rep("nginx:1.27", "", day(18)),
		rep("registry.example.com/shop/worker:2.0", "", day(10)),
		rep("registry.example.com/shop/worker:2.0", "", day(12)),
		rep("registry.example.com/shop/pinned@"+third, "", day(22)),
		nil,
	})
	tests := []struct {
		image, want string
	}{
		{"registry.example.com/shop/api@" + apiDigest, "registry.example.com/shop/api:1.4.2@20"},
		{"registry.example.com/shop/api:1.4.2@" + apiDigest, "registry.example.com/shop/api:1.4.2@20"},
		{"mirror.example.net/copy/api@" + apiDigest, "registry.example.com/shop/api:1.4.2@20"},
		{"registry.example.com/shop/api:1.4.2", "registry.example.com/shop/api:1.4.2@21"},
		{"registry.example.com/shop/api:1.4.2@" + other, ""},
		{"registry.example.com/shop/api@" + other, ""},
		{"registry.example.com/shop/api:1.4.3", ""},
		{"registry.example.com/shop/api", ""},
		{"registry.example.com/shop/web", "registry.example.com/shop/web@19"},
		{"registry.example.com/shop/web:latest", "registry.example.com/shop/web@19"},
		{"registry.example.com/shop/web-old", ""},
		{"docker.io/library/nginx:1.27", "nginx:1.27@18"},
		{"index.docker.io/library/nginx:1.27", "nginx:1.27@18"},
		{"evil.io/library/nginx:1.27", ""},
		{"registry.example.com/shop/pinned", ""},
		{"registry.example.com/shop/pinned@" + third, "registry.example.com/shop/pinned@" + third + "@22"},
		{"registry.example.com/shop/worker:2.0", "registry.example.com/shop/worker:2.0@12"},
	}
	for _, tt := range tests {
		ref, err := imageref.Parse(tt.image)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if r := x.Lookup(ref); r != nil {
			got = r.Source
		}
		if got != tt.want {
			t.Errorf("Lookup(%s) = %q, want %q", tt.image, got, tt.want)
		}
	}
}
