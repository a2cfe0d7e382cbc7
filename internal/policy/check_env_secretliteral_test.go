package policy

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestCheckSecretLiteral(t *testing.T) {
	p := compile(t, `{}`)
	tests := []struct {
		name, value string
		want        bool
	}{
		{"DB_PASSWORD", "hunter2", true},
		{"API_KEY", "abcdef", true},
		{"client_secret", "abc", true},
		{"GITHUB_TOKEN", "x", true},
		{"DB_PASSWORD", "", false},
		{"DB_PASSWORD_FILE", "/run/secrets/db", false},
		{"SECRET_NAME", "db-credentials", false},
		{"TOKEN_TTL", "3600", false},
		{"DB_PASSWORD", "$(FROM_SECRET)", false},
		{"ENABLE_AUTH_KEY_ROTATION", "true", false},
		{"LOG_LEVEL", "debug", false},
		// Whatever the name, a value that is a credential.
		{"CONFIG", "AKIAIOSFODNN7EXAMPLE", true},
		{"KEY", "-----BEGIN RSA PRIVATE KEY-----\nMII...", true},
		{"DATABASE_URL", "postgres://app:s3cret@db:5432/app", true},
		{"DATABASE_URL", "postgres://app@db:5432/app", false},
		{"NOTE", "ghp_" + strings.Repeat("a", 36), true},
	}
	for _, tt := range tests {
		obj := podWith(t, func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "OK", Value: "1"}, {Name: tt.name, Value: tt.value}}
		})
		fs := evaluate(obj, p)
		got := checksOf(fs, "env.secretLiteral")
		if (len(got) > 0) != tt.want {
			t.Errorf("%s=%q: got %v, want violation=%v", tt.name, tt.value, got, tt.want)
			continue
		}
		if tt.want {
			if got[0] != "env.secretLiteral@spec.containers[0].env[1].value" {
				t.Errorf("%s: path %s", tt.name, got[0])
			}
			for _, f := range fs {
				if tt.value != "" && strings.Contains(f.Message, tt.value) {
					t.Errorf("the message repeats the secret: %s", f.Message)
				}
			}
		}
	}
}

func TestCheckSecretLiteralAllowsSecretKeyRef(t *testing.T) {
	p := compile(t, `{}`)
	obj := podWith(t, func(p *corev1.Pod) {
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}}}
	})
	if got := checksOf(evaluate(obj, p), "env.secretLiteral"); got != nil {
		t.Errorf("got %v", got)
	}
}
