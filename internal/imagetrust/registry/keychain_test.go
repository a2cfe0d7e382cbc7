package registry

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	corev1 "k8s.io/api/core/v1"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// whoFor resolves image's repository in kc and returns the user name chosen ("" anonymous).
func whoFor(t *testing.T, kc authn.Keychain, image string) string {
	t.Helper()
	ref, err := name.ParseReference(image)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := kc.Resolve(ref.Context())
	if err != nil {
		t.Fatal(err)
	}
	if auth == authn.Anonymous {
		return ""
	}
	cfg, err := auth.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.IdentityToken != "" {
		return "token:" + cfg.IdentityToken
	}
	return cfg.Username + ":" + cfg.Password
}

func TestPullSecretKeychainMatching(t *testing.T) {
	secrets := []corev1.Secret{
		dockerConfigSecret("team", "first", `{"auths":{
			"https://index.docker.io/v1/": {"auth": "`+b64("hub:pw")+`"},
			"registry.example.com": {"username": "host", "password": "pw"},
			"registry.example.com/team": {"username": "team", "password": "pw"},
			"https://registry.example.com/v2/team/deep/": {"username": "deep", "password": "pw"},
			"127.0.0.1:5000": {"auth": "`+b64("local:pw:with:colons")+`"},
			"*.corp.example": {"username": "glob", "password": "pw"},
			"exact.corp.example": {"username": "exact", "password": "pw"},
			"ghcr.io": {"identitytoken": "id-tok"}
		}}`),
		{Type: corev1.SecretTypeDockercfg, Data: map[string][]byte{corev1.DockerConfigKey: []byte(
			`{"registry.example.com": {"username": "later", "password": "pw"}, "quay.io": {"auth": "` + b64("quay:pw") + `"}}`)}},
		{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"anything": []byte("ignored like the kubelet does")}},
	}
	kc, err := PullSecretKeychain(secrets)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ image, want string }{
		{"nginx", "hub:pw"},
		{"docker.io/library/nginx:1.27", "hub:pw"},
		{"index.docker.io/acme/app", "hub:pw"},
		{"registry.example.com/app:v1", "host:pw"}, // the earlier secret wins a tie
		{"registry.example.com/team/app:v1", "team:pw"},
		{"registry.example.com/team/deep/app:v1", "deep:pw"},
		{"registry.example.com/team-b/app:v1", "host:pw"}, // whole segments only
		{"registry.example.com/teamx", "host:pw"},
		{"REGISTRY.EXAMPLE.COM/team/app", "team:pw"},
		{"127.0.0.1:5000/app:v1", "local:pw:with:colons"},
		{"127.0.0.1/app:v1", ""},      // ports must match
		{"127.0.0.1:5001/app:v1", ""}, //
		{"a.corp.example/app", "glob:pw"},
		{"exact.corp.example/app", "exact:pw"}, // exact beats glob
		{"a.b.corp.example/app", ""},           // one label per *
		{"ghcr.io/acme/app", "token:id-tok"},
		{"quay.io/org/app", "quay:pw"},
		{"registry.example.com.evil.io/team/app", ""}, // lookalike hosts never match
		{"evilregistry.example.com/app", ""},
		{"gcr.io/project/app", ""},
	}
	for _, tt := range tests {
		if got := whoFor(t, kc, tt.image); got != tt.want {
			t.Errorf("%s: credentials %q, want %q", tt.image, got, tt.want)
		}
	}
}

func TestPullSecretKeychainMalformed(t *testing.T) {
	bad := func(name, typ, key, data string) corev1.Secret {
		s := corev1.Secret{Type: corev1.SecretType(typ), Data: map[string][]byte{key: []byte(data)}}
		s.Namespace, s.Name = "team", name
		return s
	}
	const cfgjson, cfg = string(corev1.SecretTypeDockerConfigJson), string(corev1.SecretTypeDockercfg)
	tests := []struct {
		secret corev1.Secret
		want   string
	}{
		{bad("nojson", cfgjson, ".dockerconfigjson", `{"auths": {`), `pull secret team/nojson: .dockerconfigjson is not a docker config: invalid JSON at byte 11`},
		{bad("nokey", cfgjson, "config.json", `{}`), `pull secret team/nokey: type kubernetes.io/dockerconfigjson but no .dockerconfigjson key`},
		{bad("noauths", cfgjson, ".dockerconfigjson", `{"credsStore": "x"}`), `pull secret team/noauths: .dockerconfigjson has no "auths" map`},
		{bad("wrongtype", cfgjson, ".dockerconfigjson", `{"auths": []}`), `pull secret team/wrongtype: .dockerconfigjson is not a docker config: field "auths" has the wrong JSON type (array)`},
		{bad("badb64", cfgjson, ".dockerconfigjson", `{"auths": {"r.io": {"auth": "%%%"}}}`), `pull secret team/badb64: registry "r.io": "auth" is not base64`},
		{bad("nocolon", cfgjson, ".dockerconfigjson", `{"auths": {"r.io": {"auth": "`+b64("userpass")+`"}}}`), `pull secret team/nocolon: registry "r.io": "auth" does not decode to user:password`},
		{bad("empty", cfgjson, ".dockerconfigjson", `{"auths": {"r.io": {}}}`), `pull secret team/empty: registry "r.io": no credentials ("auth", "username"/"password", "identitytoken" or "registrytoken")`},
		{bad("badhost", cfgjson, ".dockerconfigjson", `{"auths": {"https://": {"username": "u", "password": "p"}}}`), `pull secret team/badhost: registry "https://": not a registry host, host:port or host/path`},
		{bad("oldjson", cfg, ".dockercfg", `["r.io"]`), `pull secret team/oldjson: .dockercfg is not a map of registries to credentials: the document has the wrong JSON type (array)`},
		{bad("oldnokey", cfg, ".dockerconfigjson", `{}`), `pull secret team/oldnokey: type kubernetes.io/dockercfg but no .dockercfg key`},
	}
	for _, tt := range tests {
		_, err := PullSecretKeychain([]corev1.Secret{tt.secret})
		if err == nil {
			t.Errorf("%s: no error", tt.secret.Name)
			continue
		}
		if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
			t.Errorf("%s: error (-want +got):\n%s", tt.secret.Name, diff)
		}
	}
}

// The good secrets still work beside a bad one, and the bad one's data stays out of the error.
func TestPullSecretKeychainPartial(t *testing.T) {
	kc, err := PullSecretKeychain([]corev1.Secret{
		dockerConfigSecret("team", "broken", `{"auths": {"r.io": {"auth": "c2VjcmV0LXBhc3N3b3Jk"}}}`), // "secret-password", no colon
		dockerConfigSecret("team", "good", `{"auths": {"r.io": {"username": "u", "password": "p"}}}`),
	})
	if err == nil || !strings.Contains(err.Error(), "team/broken") || strings.Contains(err.Error(), "team/good") {
		t.Errorf("error %v, want one naming team/broken only", err)
	}
	if strings.Contains(err.Error(), "secret-password") || strings.Contains(err.Error(), "c2VjcmV0") {
		t.Errorf("error %q leaks the secret's data", err)
	}
	if got := whoFor(t, kc, "r.io/app"); got != "u:p" {
		t.Errorf("good secret beside a broken one: %q, want u:p", got)
	}
}
