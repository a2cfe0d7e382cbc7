package registry

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	corev1 "k8s.io/api/core/v1"
)

// FuzzPullSecretKeychain feeds arbitrary bytes as both kinds of pull secret and resolves a few
// registries with whatever keychain comes out, looking for panics and for errors that leak
// the secret's data.
func FuzzPullSecretKeychain(f *testing.F) {
	for _, seed := range []string{
		`{"auths":{"https://index.docker.io/v1/":{"auth":"dXNlcjpwYXNz"}}}`,
		`{"auths":{"127.0.0.1:5000":{"username":"u","password":"p"},"*.corp.example/team":{"identitytoken":"t"}}}`,
		`{"registry.example.com/team":{"auth":"dTpw"}}`,
		`{"auths":{"r.io":{"auth":"%%%"}}}`,
		`{"auths":{"[::1]:5000":{"registrytoken":"t"},"http://h:1/v2/":{"auth":"Og=="}}}`,
		`{"auths":[]}`, `null`, `{}`, ``, `{"auths":{"":{}}}`,
	} {
		f.Add([]byte(seed))
	}
	refs := []name.Reference{}
	for _, s := range []string{"nginx", "127.0.0.1:5000/app:v1", "registry.example.com/team/app", "a.corp.example/team/x", "[::1]:5000/x", "r.io/a/b/c"} {
		ref, err := name.ParseReference(s)
		if err != nil {
			f.Fatal(err)
		}
		refs = append(refs, ref)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		secrets := []corev1.Secret{
			{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: data}},
			{Type: corev1.SecretTypeDockercfg, Data: map[string][]byte{corev1.DockerConfigKey: data}},
		}
		kc, _ := PullSecretKeychain(secrets)
		if kc == nil {
			t.Fatal("nil keychain")
		}
		for _, ref := range refs {
			auth, err := kc.Resolve(ref.Context())
			if err != nil {
				t.Fatalf("Resolve(%s): %v", ref, err)
			}
			if auth != authn.Anonymous {
				if _, err := auth.Authorization(); err != nil {
					t.Fatalf("Authorization(%s): %v", ref, err)
				}
			}
		}
	})
}
