package signature

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
)

// checkTlogBody accepts the entry kinds cosign writes only when they record this payload,
// signature and signer.
func TestCheckTlogBody(t *testing.T) {
	payload, sig, der := []byte(`{"x":1}`), []byte("signature-bytes"), []byte("certificate-der")
	sum := sha256.Sum256(payload)
	hash := map[string]string{"algorithm": "sha256", "value": hex.EncodeToString(sum[:])}
	b64 := base64.StdEncoding.EncodeToString
	keyPEM := b64(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	body := func(kind, version string, spec any) []byte {
		b, _ := json.Marshal(map[string]any{"kind": kind, "apiVersion": version, "spec": spec})
		return b
	}
	hashed := body("hashedrekord", "0.0.1", map[string]any{"data": map[string]any{"hash": hash},
		"signature": map[string]any{"content": b64(sig), "publicKey": map[string]string{"content": keyPEM}}})
	intoto := body("intoto", "0.0.2", map[string]any{"content": map[string]any{"payloadHash": hash,
		"envelope": map[string]any{"signatures": []map[string]string{{"sig": b64([]byte(b64(sig))), "publicKey": keyPEM}}}}})
	dsse := body("dsse", "0.0.1", map[string]any{"payloadHash": hash,
		"signatures": []map[string]string{{"signature": b64(sig), "verifier": keyPEM}}})
	simple, env := &candidate{payload: payload}, &candidate{dsse: true, payload: payload}
	for name, tc := range map[string]struct {
		body      []byte
		c         *candidate
		sig, cert []byte
		want      string
	}{
		"hashedrekord":            {hashed, simple, sig, der, ""},
		"intoto":                  {intoto, env, sig, der, ""},
		"dsse":                    {dsse, env, sig, der, ""},
		"hashedrekord for a DSSE": {hashed, env, sig, der, "does not fit"},
		"intoto for a signature":  {intoto, simple, sig, der, "does not fit"},
		"other payload":           {hashed, &candidate{payload: []byte("other")}, sig, der, "records payload hash"},
		"other signature":         {dsse, env, []byte("other"), der, "another signature"},
		"other signer":            {intoto, env, sig, []byte("other"), "another signature"},
		"unknown kind":            {body("rekord", "0.0.1", map[string]any{}), simple, sig, der, "does not fit"},
		"not JSON":                {[]byte("{"), simple, sig, der, "body"},
	} {
		err := checkTlogBody(tc.body, tc.c, tc.sig, tc.cert)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
}

// The SET's payload is canonical JSON: sorted keys, no HTML escaping, control characters
// escaped (RFC 8785).
func TestCanonicalPayload(t *testing.T) {
	e := &tlogEntry{bodyB64: "a<b>&\"\\\n\x01", integratedTime: 1700000000, logIndex: 42, logID: "abc"}
	want := `{"body":"a<b>&\"\\\n\u0001","integratedTime":1700000000,"logID":"abc","logIndex":42}`
	if got := string(e.canonicalPayload()); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
