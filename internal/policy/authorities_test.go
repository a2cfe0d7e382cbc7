package policy

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	corev1 "k8s.io/api/core/v1"
)

func TestVerifiedAuthoritiesCoverEveryImageOrNone(t *testing.T) {
	reg := newTestRegistry(t)
	ci, release := newTestKey(t), newTestKey(t)
	both := reg.push("app", "both")
	ci.sign(t, both)
	release.sign(t, both)
	ciOnly := reg.push("app", "ci")
	ci.sign(t, ciOnly)
	unsigned := reg.push("app", "unsigned")
	uncovered := reg.push("other", "v1")
	ci.sign(t, uncovered)

	data := fakeImageData{trust: map[string]*ImageTrust{}}
	for _, d := range []name.Digest{both, ciOnly, unsigned, uncovered} {
		data.trust[d.String()] = reg.trust(d)
	}
	policy := fmt.Sprintf(`images:
  signatures:
  - images: ["%s/app"]
    authorities:
    - name: ci
      key: {pem: %q}
    - name: release
      key: {pem: %q}
`, reg.host, ci.pub, release.pub)
	e := NewEngine([]*Policy{compile(t, policy)}, func() time.Time { return testNow }).WithImageData(data)
	for name, c := range map[string]struct {
		images []string
		want   []string
	}{
		"one image, two authorities":   {[]string{both.String()}, []string{"ci", "release"}},
		"two images, one in common":    {[]string{both.String(), ciOnly.String()}, []string{"ci"}},
		"an unsigned image":            {[]string{both.String(), unsigned.String()}, nil},
		"an image no rule covers":      {[]string{both.String(), uncovered.String()}, nil},
		"an image nothing was read of": {[]string{reg.host + "/app:never"}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			obj := podWith(t, func(p *corev1.Pod) {
				base := p.Spec.Containers[0]
				p.Spec.Containers = nil
				for i, img := range c.images {
					ctr := base
					ctr.Name, ctr.Image = fmt.Sprintf("c%d", i), img
					p.Spec.Containers = append(p.Spec.Containers, ctr)
				}
			})
			if got := e.VerifiedAuthorities(obj, Namespace{Name: "app"}); !slices.Equal(got, c.want) {
				t.Errorf("authorities %v, want %v", got, c.want)
			}
		})
	}
}
