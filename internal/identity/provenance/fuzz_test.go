package provenance

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

func pemPublic(t testing.TB, k ed25519.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// FuzzParse feeds arbitrary annotation values to Parse: it must never panic, and whatever it
// accepts must format back to the same value (one value, one meaning).
func FuzzParse(f *testing.F) {
	s := newSigner(f, "ci-2025")
	good, _ := Sign(s.priv, s.id, signedPod(), []string{"a.b", "pipeline"})
	for _, seed := range []string{good, "", ";;;", "v1;k;a;", "v2;k;a;AAAA", "v1;k;a,a;" + good[len(good)-86:], "v1;k;A;x", "v1;;;;"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, err := Parse(v)
		if err != nil {
			return
		}
		if got.String() != v {
			t.Fatalf("Parse(%q) formats back as %q", v, got.String())
		}
	})
}

// FuzzVerify puts arbitrary annotation values on a real pod: Verify must never panic and must
// accept only the value the key signed.
func FuzzVerify(f *testing.F) {
	s := newSigner(f, "ci")
	pod := running(signedPod())
	good, _ := Sign(s.priv, s.id, pod, []string{"pipeline"})
	f.Add(good)
	f.Add(good[:len(good)-1] + "A")
	f.Add("v1;ci;pipeline;" + good[len(good)-86:])
	keys := Keys{s.id: s.pub}
	f.Fuzz(func(t *testing.T, v string) {
		p := pod.DeepCopy()
		p.Annotations[Annotation] = v
		got, err := Verify(p, keys)
		if err == nil && v != good {
			t.Fatalf("Verify accepted %q (authorities %v), which the key did not sign", v, got)
		}
	})
}
