package authz

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Go's encoding/json matches object keys case-insensitively and keeps the last of duplicate
// keys. For a security policy either would let two readers see different policies in the same
// bytes ("defaultdeny" accepted as "defaultDeny", a second "rules" hiding the first), so Parse
// first walks the document and refuses any key that is not spelled exactly as below, and any
// key given twice.

// objectShape lists the keys an object may have and the shape of each value.
type objectShape map[string]valueShape

type valueShape struct {
	object  objectShape // the value is this object
	arrayOf objectShape // the value is an array of these objects
}

var (
	httpShape   = objectShape{"methods": {}, "pathPrefixes": {}}
	ruleShape   = objectShape{"name": {}, "ports": {}, "principals": {}, "provenance": {}, "http": {object: httpShape}}
	policyShape = objectShape{"defaultDeny": {}, "permissive": {}, "rules": {arrayOf: ruleShape}}
)

// checkKeys verifies that data, a JSON object, uses exactly the keys of shape, recursively.
func checkKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return walkObject(dec, policyShape, "policy")
}

func walkObject(dec *json.Decoder, shape objectShape, at string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil { // null is decoded as the zero value
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("%s: want an object", at)
	}
	seen := make(map[string]bool, len(shape))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key := tok.(string) // object keys are always strings
		vs, known := shape[key]
		switch {
		case !known:
			return fmt.Errorf("%s: unknown field %q", at, key)
		case seen[key]:
			return fmt.Errorf("%s: field %q given twice", at, key)
		}
		seen[key] = true
		if err := walkValue(dec, vs, at+"."+key); err != nil {
			return err
		}
	}
	_, err = dec.Token() // '}'
	return err
}

func walkValue(dec *json.Decoder, vs valueShape, at string) error {
	switch {
	case vs.object != nil:
		return walkObject(dec, vs.object, at)
	case vs.arrayOf != nil:
		tok, err := dec.Token()
		if err != nil || tok == nil {
			return err
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return fmt.Errorf("%s: want an array", at)
		}
		for i := 0; dec.More(); i++ {
			if err := walkObject(dec, vs.arrayOf, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
		_, err = dec.Token() // ']'
		return err
	}
	var skip json.RawMessage
	return dec.Decode(&skip)
}
