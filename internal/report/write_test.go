package report

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const testVersion = "1.2.3-test"

// goldenExt is the golden file extension of each format.
var goldenExt = map[string]string{"text": "txt", "json": "json", "sarif": "sarif", "junit": "junit.xml"}

func TestWriteGolden(t *testing.T) {
	results := []struct {
		name string
		r    func() *Result
	}{
		{"rich", richResult},
		{"fail", failResult},
		{"pass", passResult},
		{"empty", emptyResult},
	}
	for _, res := range results {
		for _, format := range Formats {
			t.Run(res.name+"/"+format, func(t *testing.T) {
				var buf bytes.Buffer
				if err := Write(&buf, format, res.r(), Options{ToolVersion: testVersion}); err != nil {
					t.Fatalf("Write: %v", err)
				}
				if !strings.HasSuffix(buf.String(), "\n") {
					t.Error("output does not end with a newline")
				}
				golden(t, res.name+"."+goldenExt[format], buf.Bytes())
			})
		}
	}
}

func TestWriteDoesNotChangeResult(t *testing.T) {
	for _, format := range Formats {
		r := richResult()
		if err := Write(&bytes.Buffer{}, format, r, Options{ToolVersion: testVersion, ShowSuppressed: true}); err != nil {
			t.Fatalf("Write(%s): %v", format, err)
		}
		if diff := cmp.Diff(richResult(), r); diff != "" {
			t.Errorf("Write(%s) changed the result (-before +after):\n%s", format, diff)
		}
	}
}

func TestWriteRejectsUnknownFormat(t *testing.T) {
	for _, format := range []string{"", "yaml", "xml", "TEXT", "Json", " sarif", "junit ", "sarif2", "text,json", "-"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			err := Write(&buf, format, richResult(), Options{})
			if err == nil {
				t.Fatal("Write accepted an unknown format")
			}
			if !errors.Is(err, ErrUnknownFormat) {
				t.Errorf("error %v is not ErrUnknownFormat", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, `"`+format+`"`) {
				t.Errorf("error %q does not quote the format %q", msg, format)
			}
			for _, f := range Formats {
				if !strings.Contains(msg, f) {
					t.Errorf("error %q does not list the accepted format %q", msg, f)
				}
			}
			if buf.Len() != 0 {
				t.Errorf("Write wrote %q for an unknown format", buf.String())
			}
		})
	}
}

func TestFormatsAreAccepted(t *testing.T) {
	want := []string{"text", "json", "sarif", "junit"}
	if diff := cmp.Diff(want, Formats); diff != "" {
		t.Errorf("Formats (-want +got):\n%s", diff)
	}
	for _, format := range Formats {
		if err := Write(&bytes.Buffer{}, format, emptyResult(), Options{}); err != nil {
			t.Errorf("Write(%q): %v", format, err)
		}
	}
}

func TestWriteNilResult(t *testing.T) {
	if err := Write(&bytes.Buffer{}, "text", nil, Options{}); err == nil {
		t.Error("Write accepted a nil result")
	}
}

type failingWriter struct{}

var errDiskFull = errors.New("disk full")

func (failingWriter) Write([]byte) (int, error) { return 0, errDiskFull }

func TestWriteReportsWriterErrors(t *testing.T) {
	for _, format := range Formats {
		err := Write(failingWriter{}, format, richResult(), Options{})
		if !errors.Is(err, errDiskFull) {
			t.Errorf("Write(%s) = %v, want it to wrap %v", format, err, errDiskFull)
		}
	}
}

func TestGroupByResource(t *testing.T) {
	r := richResult()
	// A finding about an object missing from r.Resources still gets a group, at the end.
	orphan := finding("image.digest", "low", msg("not pinned"))
	orphan.Resource.Kind, orphan.Resource.Name, orphan.File = "Pod", "stray", "x.yaml"
	r.Findings = append(r.Findings, orphan)

	type group struct {
		Object   string
		Findings []string
	}
	var got []group
	for _, g := range groupByResource(r) {
		gr := group{Object: g.ref.Kind + " " + objectName(g.ref.Resource) + " " + location(g.ref.File, g.ref.Line)}
		for _, f := range g.findings {
			gr.Findings = append(gr.Findings, f.Check)
		}
		got = append(got, gr)
	}
	want := []group{
		{"Deployment shop/web manifests/web.yaml:12", []string{"pss.privileged", "image.latest", "pss.runAsNonRoot"}},
		{"Deployment shop/api manifests/web.yaml:40", nil},
		{"Pod default/debug charts/my app/pod.yaml:1", []string{"container.resources", "image.registry", "custom.team-label"}},
		{"Job batch/report stdin", []string{"pod.automountServiceAccountToken"}},
		{"Pod stray x.yaml", []string{"image.digest"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
}
