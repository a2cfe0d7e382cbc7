package policy

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// env.secretLiteral: credentials are not written into the manifest.
//
// Restricted: env[].value of every container. Violations: a non-empty literal value of a
// variable whose name says it holds a credential (PASSWORD, SECRET, TOKEN, API_KEY, …, but not
// names that point at one, like *_FILE, *_PATH or SECRET_NAME), and any value that looks like a
// credential whatever its name (private keys, cloud access keys, tokens of well-known services,
// URLs with a password). Allowed: valueFrom.secretKeyRef and references like $(VAR).
// Messages never repeat the value.
var checkSecretLiteral = &Check{
	ID:          "env.secretLiteral",
	Title:       "No credentials in plain env values",
	Severity:    SeverityHigh,
	Remediation: "Move the value into a Secret and use env[].valueFrom.secretKeyRef.",
	DefaultOn:   true,
	Eval: func(in *Input) []Violation {
		var out []Violation
		for _, c := range in.Containers {
			for i, e := range c.Container.Env {
				if why := secretLiteral(e.Name, e.Value); why != "" {
					out = append(out, containerViolation(c, fmt.Sprintf("env[%d].value", i), fmt.Sprintf(
						"container %q sets %s to a literal value that %s", c.Container.Name, e.Name, why)))
				}
			}
		}
		return out
	},
}

var (
	secretName = regexp.MustCompile(`(?i)(passw(or)?d|passwd|secret|token|api_?key|access_?key|private_?key|credential|auth_?key|client_?secret|pwd)`)
	// pointerName are names that hold where a credential is, or a setting about one.
	pointerName = regexp.MustCompile(`(?i)(_(file|path|dir|name|ref|url|uri|endpoint|host|ttl|timeout|expiry|expiration|length|size|enabled|mode|type|header|audience|issuer|key_id|id))$`)
	secretValue = []struct {
		re   *regexp.Regexp
		what string
	}{
		{regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`), "is a private key"},
		{regexp.MustCompile(`\b(AKIA|ASIA)[0-9A-Z]{16}\b`), "looks like an AWS access key"},
		{regexp.MustCompile(`\bgh[pousr]_[A-Za-z0-9]{36,}\b`), "looks like a GitHub token"},
		{regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}`), "looks like a Slack token"},
		{regexp.MustCompile(`\bglpat-[A-Za-z0-9_-]{20,}`), "looks like a GitLab token"},
		{regexp.MustCompile(`\bsk_live_[A-Za-z0-9]{16,}`), "looks like a Stripe key"},
		{regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}\b`), "looks like a Google API key"},
	}
	varReference = regexp.MustCompile(`^\$\([A-Za-z_][A-Za-z0-9_.-]*\)$`)
)

// secretLiteral says why the value of env var name looks like a credential, or "".
func secretLiteral(name, value string) string {
	if value == "" || varReference.MatchString(value) {
		return ""
	}
	for _, p := range secretValue {
		if p.re.MatchString(value) {
			return p.what
		}
	}
	if u, err := url.Parse(value); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return "is a URL with a password in it"
		}
	}
	if secretName.MatchString(name) && !pointerName.MatchString(name) && !placeholder(value) {
		return "its name says is a credential"
	}
	return ""
}

// placeholder reports values that are clearly not credentials: booleans and tiny words.
func placeholder(v string) bool {
	switch strings.ToLower(v) {
	case "true", "false", "yes", "no", "on", "off", "none", "null":
		return true
	}
	return false
}
