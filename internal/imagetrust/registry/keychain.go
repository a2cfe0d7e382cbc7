package registry

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
)

// PullSecretKeychain is the keychain of a pod's image pull secrets, in the pod's order, chosen
// the way the kubelet chooses them, so that image trust sees the registry with the access the
// kubelet will have:
//
//   - Secrets of type kubernetes.io/dockerconfigjson (key .dockerconfigjson, {"auths": {...}})
//     and kubernetes.io/dockercfg (key .dockercfg, the auths map itself) are read; secrets of
//     other types are ignored, as the kubelet ignores them.
//   - An entry's key is a registry host with an optional port and path: "ghcr.io",
//     "127.0.0.1:5000", "registry.example.com/team", a URL ("https://index.docker.io/v1/" is
//     Docker Hub, and /v1/ or /v2/ in front of a path is dropped), or a host glob
//     ("*.example.com", one label per *).
//   - An entry holds "auth" (base64 of user:password), or "username" and "password", and/or
//     "identitytoken" or "registrytoken".
//   - An entry matches an image when its host equals the image's registry host (ports must
//     match too) and its path is empty or a whole-segment prefix of the repository
//     ("registry.example.com/team" matches team/app, not team-b/app; the kubelet's plain string
//     prefix would). Of the matching entries the longest path wins, then an exact host over a
//     glob, then the earlier secret.
//
// Malformed secrets are reported in the error, each named by namespace/name with what is
// wrong; the keychain returned beside the error holds the well-formed secrets and is never nil.
func PullSecretKeychain(secrets []corev1.Secret) (authn.Keychain, error) {
	kc := &pullSecretKeychain{}
	var errs []error
	for _, s := range secrets {
		entries, err := parseSecret(&s)
		if err != nil {
			errs = append(errs, fmt.Errorf("pull secret %s/%s: %w", s.Namespace, s.Name, err))
			continue
		}
		kc.entries = append(kc.entries, entries...)
	}
	return kc, errors.Join(errs...)
}

type pullSecretKeychain struct {
	entries []credentialEntry // in secret order; within a secret sorted by key
}

// credentialEntry is one key of an auths map.
type credentialEntry struct {
	host string // lower-case host[:port], Docker Hub as index.docker.io; may hold * labels
	path string // repository prefix without slashes at the ends; "" for the whole registry
	glob bool
	cfg  authn.AuthConfig
}

func (k *pullSecretKeychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	host := normalizeHost(target.RegistryStr())
	repo := strings.TrimPrefix(target.String(), target.RegistryStr())
	repo = strings.Trim(repo, "/")
	var best *credentialEntry
	for i := range k.entries {
		e := &k.entries[i]
		if !e.matches(host, repo) {
			continue
		}
		if best == nil || better(e, best) {
			best = e
		}
	}
	if best == nil {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(best.cfg), nil
}

// better: a longer path, then an exact host over a glob. Ties keep the earlier entry.
func better(a, b *credentialEntry) bool {
	if len(a.path) != len(b.path) {
		return len(a.path) > len(b.path)
	}
	return !a.glob && b.glob
}

func (e *credentialEntry) matches(host, repo string) bool {
	if e.glob {
		if !globMatch(e.host, host) {
			return false
		}
	} else if e.host != host {
		return false
	}
	return e.path == "" || repo == e.path || strings.HasPrefix(repo, e.path+"/")
}

// globMatch matches a host glob label by label, ports exactly, as the kubelet does.
func globMatch(glob, host string) bool {
	gh, gp := splitPort(glob)
	hh, hp := splitPort(host)
	if gp != hp {
		return false
	}
	gl, hl := strings.Split(gh, "."), strings.Split(hh, ".")
	if len(gl) != len(hl) {
		return false
	}
	for i := range gl {
		if ok, err := path.Match(gl[i], hl[i]); err != nil || !ok {
			return false
		}
	}
	return true
}

func splitPort(host string) (string, string) {
	if i := strings.LastIndex(host, ":"); i >= 0 && !strings.Contains(host[i:], "]") {
		return host[:i], host[i+1:]
	}
	return host, ""
}

// parseSecret reads the auths map of one pull secret; other secret types give no entries.
func parseSecret(s *corev1.Secret) ([]credentialEntry, error) {
	var auths map[string]dockerConfigEntry
	switch s.Type {
	case corev1.SecretTypeDockerConfigJson:
		data, ok := s.Data[corev1.DockerConfigJsonKey]
		if !ok {
			return nil, fmt.Errorf("type %s but no %s key", s.Type, corev1.DockerConfigJsonKey)
		}
		var cfg struct {
			Auths map[string]dockerConfigEntry `json:"auths"`
		}
		if err := json.Unmarshal(data, &cfg); err != nil {
			return nil, fmt.Errorf("%s is not a docker config: %w", corev1.DockerConfigJsonKey, jsonError(err))
		}
		if cfg.Auths == nil {
			return nil, fmt.Errorf(`%s has no "auths" map`, corev1.DockerConfigJsonKey)
		}
		auths = cfg.Auths
	case corev1.SecretTypeDockercfg:
		data, ok := s.Data[corev1.DockerConfigKey]
		if !ok {
			return nil, fmt.Errorf("type %s but no %s key", s.Type, corev1.DockerConfigKey)
		}
		if err := json.Unmarshal(data, &auths); err != nil {
			return nil, fmt.Errorf("%s is not a map of registries to credentials: %w", corev1.DockerConfigKey, jsonError(err))
		}
	default:
		return nil, nil
	}
	keys := make([]string, 0, len(auths))
	for k := range auths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	entries := make([]credentialEntry, 0, len(keys))
	for _, k := range keys {
		e, err := parseEntry(k, auths[k])
		if err != nil {
			return nil, fmt.Errorf("registry %q: %w", k, err)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// dockerConfigEntry is one registry's credentials in a docker config.
type dockerConfigEntry struct {
	Auth          string `json:"auth"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
}

func parseEntry(key string, d dockerConfigEntry) (credentialEntry, error) {
	host, repo, err := parseKey(key)
	if err != nil {
		return credentialEntry{}, err
	}
	e := credentialEntry{host: host, path: repo, glob: strings.Contains(host, "*")}
	e.cfg = authn.AuthConfig{Username: d.Username, Password: d.Password, IdentityToken: d.IdentityToken, RegistryToken: d.RegistryToken}
	if d.Auth != "" {
		user, pass, err := decodeAuth(d.Auth)
		if err != nil {
			return credentialEntry{}, err
		}
		e.cfg.Username, e.cfg.Password = user, pass
	}
	if e.cfg.Username == "" && e.cfg.Password == "" && e.cfg.IdentityToken == "" && e.cfg.RegistryToken == "" {
		return credentialEntry{}, errors.New(`no credentials ("auth", "username"/"password", "identitytoken" or "registrytoken")`)
	}
	return e, nil
}

// parseKey reads an auths key: host[:port][/path] or a URL.
func parseKey(key string) (host, repo string, err error) {
	raw := strings.TrimSpace(key)
	if raw == "" {
		return "", "", errors.New("empty registry name")
	}
	if !strings.HasPrefix(raw, "https://") && !strings.HasPrefix(raw, "http://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", "", errors.New("not a registry host, host:port or host/path")
	}
	p := u.Path
	if strings.HasPrefix(p, "/v1/") || strings.HasPrefix(p, "/v2/") || p == "/v1" || p == "/v2" {
		p = p[3:]
	}
	if p = strings.Trim(p, "/"); p != "" {
		p = path.Clean(p)
		if p == "." || strings.HasPrefix(p, "..") {
			return "", "", errors.New("not a repository path")
		}
	}
	return normalizeHost(u.Host), p, nil
}

// decodeAuth decodes the "auth" field: base64 of user:password.
func decodeAuth(s string) (string, string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(s); err != nil {
			return "", "", errors.New(`"auth" is not base64`)
		}
	}
	user, pass, ok := strings.Cut(string(b), ":")
	if !ok {
		return "", "", errors.New(`"auth" does not decode to user:password`)
	}
	return user, pass, nil
}

// jsonError drops the input from a JSON error: the data is a credential.
func jsonError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		what := "the document"
		if te.Field != "" {
			what = fmt.Sprintf("field %q", te.Field)
		}
		return fmt.Errorf("%s has the wrong JSON type (%s)", what, te.Value)
	}
	return errors.New("invalid JSON")
}
