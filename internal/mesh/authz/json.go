package authz

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxPolicySize bounds the JSON form accepted by Parse.
const MaxPolicySize = 4 << 20

// Parse decodes the JSON form of a Policy (the field names of its json tags, spelled exactly)
// and validates it. Unknown, misspelt or repeated fields, trailing data and invalid values are
// refused, so a policy the proxy does not understand completely is never half-applied.
func Parse(data []byte) (*Policy, error) {
	if len(data) > MaxPolicySize {
		return nil, fmt.Errorf("%w: %d bytes (at most %d)", ErrInvalidPolicy, len(data), MaxPolicySize)
	}
	if trimmed := bytes.TrimSpace(data); len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: want a JSON object", ErrInvalidPolicy)
	}
	if err := checkKeys(data); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPolicy, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p Policy
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPolicy, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the policy", ErrInvalidPolicy)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}
