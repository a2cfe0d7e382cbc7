package policy

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// signaturePolicy requires threshold of the given keys for images under host/app.
func signaturePolicy(host string, threshold int, onError string, keys ...testKey) string {
	var b strings.Builder
	fmt.Fprintf(&b, "images:\n  onRegistryError: %s\n  signatures:\n  - images: [\"%s/app\"]\n    threshold: %d\n    authorities:\n", onError, host, threshold)
	for i, k := range keys {
		fmt.Fprintf(&b, "    - name: key%d\n      key:\n        pem: |\n%s\n", i+1, indentPEM(k.pub, 10))
	}
	return b.String()
}

func TestCheckImageSignature(t *testing.T) {
	reg := newTestRegistry(t)
	k1, k2, k3, stranger := newTestKey(t), newTestKey(t), newTestKey(t), newTestKey(t)

	signed := reg.push("app", "signed")
	k1.sign(t, signed)
	unsigned := reg.push("app", "unsigned")
	byStranger := reg.push("app", "stranger")
	stranger.sign(t, byStranger)
	twice := reg.push("app", "twice")
	k1.sign(t, twice)
	k1.sign(t, twice) // the same authority twice is one authority
	byTwo := reg.push("app", "two")
	k1.sign(t, byTwo)
	k3.sign(t, byTwo)
	other := reg.push("other", "v1") // no rule matches it

	// The attack: sign one image, then point the tag at another. The signature names the first
	// digest, so the second is unsigned however the tag moved.
	moved := reg.push("app", "moved")
	k1.sign(t, moved)
	swapped := reg.push("app", "moved")

	data := fakeImageData{trust: map[string]*ImageTrust{}}
	use := func(image fmt.Stringer, trust *ImageTrust) string {
		data.trust[image.String()] = trust
		return image.String()
	}
	one := signaturePolicy(reg.host, 1, "Deny", k1)
	twoOfThree := signaturePolicy(reg.host, 2, "Deny", k1, k2, k3)
	cases := []struct {
		name, policy, image string
		want                []string // substrings of the image.signature messages, one per finding
		severity            Severity
	}{
		{"signed by the trusted key", one, use(signed, reg.trust(signed)), nil, ""},
		{"unsigned", one, use(unsigned, reg.trust(unsigned)), []string{"is not signed by key1", "no signatures found"}, SeverityHigh},
		{"signed by an unknown key", one, use(byStranger, reg.trust(byStranger)), []string{"is not signed by key1", "not signed by any trusted authority"}, SeverityHigh},
		{"tag moved after signing", one, use(swapped, reg.trust(swapped)), []string{"is not signed by key1"}, SeverityHigh},
		{"the signed digest, pinned", one, use(moved, reg.trust(moved)), nil, ""},
		{"2 of 3 met", twoOfThree, use(byTwo, reg.trust(byTwo)), nil, ""},
		{"2 of 3, one authority signing twice", twoOfThree, use(twice, reg.trust(twice)), []string{"is signed by 1 of the 2 authorities required (key1); missing: key2, key3"}, SeverityHigh},
		{"no rule for the image", one, use(other, reg.trust(other)), nil, ""},
		{"registry down, Deny", one, use(stringer(reg.host+"/app:down"), &ImageTrust{Err: errors.New("registry 127.0.0.1:1 did not answer within 2s")}), []string{"could not be verified: registry 127.0.0.1:1 did not answer"}, SeverityHigh},
		{"registry down, Allow", signaturePolicy(reg.host, 1, "Allow", k1), use(stringer(reg.host+"/app:down-allow"), &ImageTrust{Err: errors.New("registry down")}), []string{"admitted because onRegistryError is Allow"}, SeverityInfo},
		{"nothing gathered (offline)", one, reg.host + "/app:never-asked", []string{"nothing was read from its registry"}, SeverityHigh},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := vulnResults(evaluateWithData(t, c.policy, data, withImage(c.image)), "image.signature")
			if len(fs) != len(c.want) && !(len(c.want) > 0 && len(fs) == 1) {
				t.Fatalf("findings %v, want %d", fs, len(c.want))
			}
			for _, w := range c.want {
				if !strings.Contains(fs[0].Message, w) {
					t.Errorf("message %q does not say %q", fs[0].Message, w)
				}
			}
			if len(fs) > 0 && Severity(fs[0].Severity) != c.severity {
				t.Errorf("severity %s, want %s", fs[0].Severity, c.severity)
			}
			if len(fs) > 0 && fs[0].Path != "spec.containers[0].image" {
				t.Errorf("path %q", fs[0].Path)
			}
		})
	}
}

func TestCompileSignatureRulesRefusesWhatCannotVerify(t *testing.T) {
	k := newTestKey(t)
	for name, spec := range map[string]string{
		"no authorities":      "images:\n  signatures:\n  - images: [\"*\"]\n    authorities: []\n",
		"threshold too high":  signaturePolicy("r.example", 2, "Deny", k),
		"bad key":             "images:\n  signatures:\n  - images: [\"*\"]\n    authorities:\n    - name: a\n      key: {pem: \"not a key\"}\n",
		"key and keyless":     "images:\n  signatures:\n  - images: [\"*\"]\n    authorities:\n    - name: a\n      key: {pem: x}\n      keyless: {issuer: i, subject: s, roots: r}\n",
		"secret offline":      "images:\n  signatures:\n  - images: [\"*\"]\n    authorities:\n    - name: a\n      key: {secretRef: {namespace: ns, name: keys}}\n",
		"bad pattern":         "images:\n  signatures:\n  - images: [\"ghcr.io/acme:v1\"]\n    authorities:\n    - name: a\n      key: {pem: x}\n",
		"bad onRegistryError": "images:\n  onRegistryError: Maybe\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := compileSpec(spec); err == nil {
				t.Fatal("compiled")
			} else if !strings.Contains(err.Error(), "spec.images") {
				t.Errorf("error %q does not name the field", err)
			}
		})
	}
}

type stringer string

func (s stringer) String() string { return string(s) }
