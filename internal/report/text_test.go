package report

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/outrider-sec/outrider/internal/policy"
)

func renderText(t *testing.T, r *Result, opts Options) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, "text", r, opts); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.String()
}

func TestTextGoldenVariants(t *testing.T) {
	golden(t, "rich-suppressed.txt", []byte(renderText(t, richResult(), Options{ShowSuppressed: true})))
	golden(t, "rich-color.txt", []byte(renderText(t, richResult(), Options{Color: true, ShowSuppressed: true})))
}

func TestTextColor(t *testing.T) {
	for _, r := range []*Result{richResult(), failResult(), passResult(), emptyResult()} {
		for _, show := range []bool{false, true} {
			plain := renderText(t, r, Options{ShowSuppressed: show})
			if strings.Contains(plain, "\x1b") {
				t.Errorf("Color=false output has escape codes:\n%q", plain)
			}
			colored := renderText(t, r, Options{Color: true, ShowSuppressed: show})
			if !strings.Contains(colored, "\x1b[") {
				t.Errorf("Color=true output has no ANSI codes:\n%s", colored)
			}
			if got := stripANSI(colored); got != plain {
				t.Errorf("colour changed the text:\nplain:\n%s\ncoloured, stripped:\n%s", plain, got)
			}
		}
	}
}

func TestTextSeverityColors(t *testing.T) {
	out := renderText(t, richResult(), Options{Color: true})
	for _, want := range []string{ansiBoldRed + "critical", ansiYellow + "medium", ansiCyan + "low", ansiDim + "info"} {
		if !strings.Contains(out, want) {
			t.Errorf("coloured output lacks %q", want)
		}
	}
}

func TestTextSuppressed(t *testing.T) {
	r := richResult()
	hidden := renderText(t, r, Options{})
	for _, s := range []string{"pss.runAsNonRoot", "image.registry", "[suppressed]"} {
		if strings.Contains(hidden, s) {
			t.Errorf("suppressed finding %q shown without ShowSuppressed", s)
		}
	}
	if !strings.Contains(hidden, ", 2 suppressed,") {
		t.Errorf("suppressed findings not counted:\n%s", hidden)
	}
	shown := renderText(t, r, Options{ShowSuppressed: true})
	for _, s := range []string{
		"pss.runAsNonRoot [suppressed]",
		"suppressed by annotation: legacy image, tracked in SHOP-123",
		"suppressed by exception: debug pods may use busybox until 2027-01-01",
	} {
		if !strings.Contains(shown, s) {
			t.Errorf("ShowSuppressed output lacks %q:\n%s", s, shown)
		}
	}
}

// TestTextHidesObjectsWithOnlySuppressedFindings: no header without a finding under it.
func TestTextHidesObjectsWithOnlySuppressedFindings(t *testing.T) {
	r := newResult().object("Deployment", "shop/quiet", "q.yaml", 1,
		finding("image.latest", policy.SeverityMedium, suppressed("annotation", "ok"))).build(1, policy.SeverityHigh)
	if out := renderText(t, r, Options{}); strings.Contains(out, "shop/quiet") {
		t.Errorf("header of an object with only suppressed findings:\n%s", out)
	}
}

func TestTextSummaryLine(t *testing.T) {
	tests := []struct {
		name string
		r    *Result
		want string
	}{
		{"rich", richResult(), "4 resources in 4 files: 5 findings (1 critical, 1 high, 1 medium, 1 low, 1 info), " +
			"2 suppressed, 1 error — ERROR: 1 input could not be read"},
		{"fail", failResult(), "1 resource in 1 file: 2 findings (1 critical, 1 medium), 0 suppressed, 0 errors — FAIL: 1 at or above high"},
		{"pass", passResult(), "1 resource in 1 file: 0 findings, 0 suppressed, 0 errors — PASS"},
		{"empty", emptyResult(), "0 resources in 0 files: 0 findings, 0 suppressed, 0 errors — PASS"},
		{"errors only", newResult().inputError("a.yaml", 0, "x").inputError("b.yaml", 2, "y").build(2, policy.SeverityHigh),
			"0 resources in 2 files: 0 findings, 0 suppressed, 2 errors — ERROR: 2 inputs could not be read"},
		{"fail on medium", newResult().object("Pod", "p", "p.yaml", 1,
			finding("image.latest", policy.SeverityMedium)).build(1, policy.SeverityMedium),
			"1 resource in 1 file: 1 finding (1 medium), 0 suppressed, 0 errors — FAIL: 1 at or above medium"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := strings.Split(strings.TrimSuffix(renderText(t, tt.r, Options{}), "\n"), "\n")
			if got := lines[len(lines)-1]; got != tt.want {
				t.Errorf("summary line\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

func TestTextLayout(t *testing.T) {
	out := renderText(t, richResult(), Options{ShowSuppressed: true})
	for _, want := range []string{
		"Deployment shop/web  manifests/web.yaml:12\n",
		"  critical pss.privileged  privileged container \"app\"\n" +
			"           spec.template.spec.containers[0].securityContext.privileged (container \"app\")\n" +
			"           fix: Remove securityContext.privileged or set it to false.\n",
		"image.latest [warn]  ",
		"container.resources [audit]  ",
		"Job batch/report  stdin\n",
		"Input errors\n  manifests/bad.yaml:3: yaml: line 3: mapping values are not allowed in this context\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "shop/api") {
		t.Errorf("an object without findings has a header:\n%s", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for _, line := range lines[:len(lines)-1] { // all but the summary
		if n := utf8.RuneCountInString(line); n > 100 {
			t.Errorf("line of %d columns: %s", n, line)
		}
	}
}

func TestTextFoldsMultiLineMessages(t *testing.T) {
	r := newResult().object("Pod", "p", "p.yaml", 1,
		finding("custom.x", policy.SeverityLow, msg("first\n  second"), fix("do\tthis\nthen that"))).
		inputError("bad.yaml", 0, "yaml:\n  broken").build(2, policy.SeverityHigh)
	out := renderText(t, r, Options{})
	for _, want := range []string{"custom.x  first second\n", "fix: do this then that\n", "  bad.yaml: yaml: broken\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// stripANSI removes SGR sequences ("\x1b[...m").
func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\x1b' {
			if j := strings.IndexByte(s[i:], 'm'); j >= 0 {
				i += j
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
