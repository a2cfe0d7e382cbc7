package capture

import (
	"strings"
	"testing"
)

// TestGoldenPayloadsRoundTrip installs every golden payload with both backends and both
// families and reads it back: iptables-save must print exactly the rules the payload holds,
// since Verify compares them as text.
func TestGoldenPayloadsRoundTrip(t *testing.T) {
	for _, b := range backends {
		t.Run(string(b), func(t *testing.T) {
			path := newNamespace(t)
			r, err := newRunner(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.close()
			ctx := testContext(t)
			for name, cfg := range goldenConfigs {
				for _, f := range []Family{IPv4, IPv6} {
					want, err := Rules(cfg, f)
					if err != nil {
						t.Fatal(err)
					}
					if err := r.restore(ctx, b, f, Render(want)); err != nil {
						t.Fatalf("%s %s: %v", name, f, err)
					}
					got, err := r.save(ctx, b, f)
					if err != nil {
						t.Fatal(err)
					}
					if p := compare(f, want, got); p != nil {
						t.Errorf("%s %s read back differently:\n%s", name, f, strings.Join(p, "\n"))
					}
				}
			}
		})
	}
}
