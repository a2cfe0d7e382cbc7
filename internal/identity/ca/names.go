package ca

import (
	"fmt"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Kubernetes name rules, the same as k8s.io/apimachinery's IsDNS1123Label (namespaces) and
// IsDNS1123Subdomain (service accounts); names_test.go checks the two agree. Re-stated here so
// the CA has no Kubernetes dependency. Refusing anything else also refuses "..", "/", "%2f",
// upper case and empty segments, so a name can never change the shape of the SPIFFE ID path.
const (
	maxLabelLen     = 63
	maxSubdomainLen = 253
)

// WorkloadID returns spiffe://<td>/ns/<namespace>/sa/<serviceAccount> after validating both
// names; the error wraps ErrInvalidName.
func WorkloadID(td spiffeid.TrustDomain, namespace, serviceAccount string) (spiffeid.ID, error) {
	if !isDNS1123Label(namespace) {
		return spiffeid.ID{}, fmt.Errorf("%w: namespace %s is not a DNS-1123 label", ErrInvalidName, quote(namespace))
	}
	if !isDNS1123Subdomain(serviceAccount) {
		return spiffeid.ID{}, fmt.Errorf("%w: service account %s is not a DNS-1123 subdomain", ErrInvalidName, quote(serviceAccount))
	}
	id, err := spiffeid.FromSegments(td, "ns", namespace, "sa", serviceAccount)
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("%w: %v", ErrInvalidName, err)
	}
	return id, nil
}

// isDNS1123Label: 1–63 of [a-z0-9-], starting and ending alphanumeric.
func isDNS1123Label(s string) bool {
	return len(s) <= maxLabelLen && isLabelChars(s)
}

// isDNS1123Subdomain: at most 253 bytes of labels joined by '.'. Like apimachinery, the
// individual labels are not limited to 63 bytes here.
func isDNS1123Subdomain(s string) bool {
	if len(s) == 0 || len(s) > maxSubdomainLen {
		return false
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if !isLabelChars(s[start:i]) {
				return false
			}
			start = i + 1
		}
	}
	return true
}

func isLabelChars(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
		switch {
		case alnum:
		case c == '-' && i != 0 && i != len(s)-1:
		default:
			return false
		}
	}
	return true
}
