package report

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/outrider-sec/outrider/internal/policy"
)

// jsonReport is the JSON format: {"findings":[...],"errors":[...],"summary":{...}}. Stream
// writes it piece by piece in this shape. Findings are policy.Finding as they are; empty lists
// are [] and never null, so consumers need no special case.
type jsonReport struct {
	Findings []policy.Finding `json:"findings"`
	Errors   []InputError     `json:"errors"`
	Summary  Summary          `json:"summary"`
}

// dropNulls re-encodes the JSON document data without the object members whose value is
// null, keeping the order of keys. Nulls inside arrays stay.
func dropNulls(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := copyWithoutNulls(dec, &out, tok); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// copyWithoutNulls writes the value that starts with tok, reading the rest of it from dec.
func copyWithoutNulls(dec *json.Decoder, out *bytes.Buffer, tok json.Token) error {
	delim, ok := tok.(json.Delim)
	if !ok {
		return writeScalar(out, tok)
	}
	isObject := delim == '{'
	out.WriteRune(rune(delim))
	for n := 0; dec.More(); {
		var key json.Token
		if isObject {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			key = k
		}
		val, err := dec.Token()
		if err != nil {
			return err
		}
		if isObject && val == nil {
			continue
		}
		if n > 0 {
			out.WriteByte(',')
		}
		n++
		if isObject {
			if err := writeScalar(out, key); err != nil {
				return err
			}
			out.WriteByte(':')
		}
		if err := copyWithoutNulls(dec, out, val); err != nil {
			return err
		}
	}
	end, err := dec.Token() // the closing '}' or ']'
	if err != nil {
		return err
	}
	if d, ok := end.(json.Delim); ok {
		out.WriteRune(rune(d))
		return nil
	}
	return fmt.Errorf("unexpected token %v", end)
}

// writeScalar writes a string, number, boolean or null token, without HTML escaping.
func writeScalar(out *bytes.Buffer, tok json.Token) error {
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(tok); err != nil {
		return err
	}
	out.Truncate(out.Len() - 1) // Encode's newline
	return nil
}
