package signature

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	sigsig "github.com/sigstore/sigstore/pkg/signature"
)

// tlogEntry is a Rekor transparency-log entry with its signed entry timestamp (SET): the
// log's promise, signed with its key, that it included body at integratedTime. Cosign's
// bundle annotation and a Sigstore bundle's inclusionPromise both carry one.
type tlogEntry struct {
	bodyB64        string // the entry body as the log encoded it: the SET signs this string
	body           []byte // bodyB64 decoded: the entry (hashedrekord, intoto, dsse)
	integratedTime int64
	logIndex       int64
	logID          string // hex SHA-256 of the log's public key (DER)
	set            []byte
}

// RekorBundle is cosign's "dev.sigstore.cosign/bundle" annotation: a Rekor entry and its SET.
type RekorBundle struct {
	SignedEntryTimestamp []byte             `json:"SignedEntryTimestamp"`
	Payload              RekorBundlePayload `json:"Payload"`
}

// RekorBundlePayload is the part of a RekorBundle that the SET signs (as canonical JSON).
type RekorBundlePayload struct {
	Body           string `json:"body"` // base64 of the entry body
	IntegratedTime int64  `json:"integratedTime"`
	LogIndex       int64  `json:"logIndex"`
	LogID          string `json:"logID"` // hex
}

// parseRekorBundle reads cosign's bundle annotation.
func parseRekorBundle(data []byte) (*tlogEntry, error) {
	var b RekorBundle
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("rekor bundle annotation: %v", err)
	}
	return newTlogEntry(b.Payload.Body, b.Payload.IntegratedTime, b.Payload.LogIndex, b.Payload.LogID, b.SignedEntryTimestamp)
}

func newTlogEntry(bodyB64 string, integratedTime, logIndex int64, logID string, set []byte) (*tlogEntry, error) {
	body, err := decodeBase64(bodyB64)
	if err != nil || len(body) == 0 {
		return nil, errors.New("rekor entry: body is not base64")
	}
	if len(set) == 0 {
		return nil, errors.New("rekor entry: no signed entry timestamp")
	}
	if _, err := hex.DecodeString(logID); err != nil || logID == "" {
		return nil, errors.New("rekor entry: logID is not hex")
	}
	return &tlogEntry{bodyB64: bodyB64, body: body, integratedTime: integratedTime, logIndex: logIndex, logID: logID, set: set}, nil
}

// canonicalPayload is the RFC 8785 canonical JSON of the SET's payload. Keys are in sorted
// order; strings escape only what JSON requires (unlike encoding/json, which escapes <, > and &).
func (e *tlogEntry) canonicalPayload() []byte {
	var b bytes.Buffer
	b.WriteString(`{"body":`)
	writeJCSString(&b, e.bodyB64)
	b.WriteString(`,"integratedTime":`)
	b.WriteString(strconv.FormatInt(e.integratedTime, 10))
	b.WriteString(`,"logID":`)
	writeJCSString(&b, e.logID)
	b.WriteString(`,"logIndex":`)
	b.WriteString(strconv.FormatInt(e.logIndex, 10))
	b.WriteString(`}`)
	return b.Bytes()
}

func writeJCSString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20:
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// transparencyLog is a trusted Rekor log: its key and the log ID derived from it.
type transparencyLog struct {
	verifier sigsig.Verifier
	logID    string
}

func newTransparencyLog(pub crypto.PublicKey) (*transparencyLog, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	v, err := sigsig.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	id := sha256.Sum256(der)
	return &transparencyLog{verifier: v, logID: hex.EncodeToString(id[:])}, nil
}

// verifySET checks the log's signature over the entry.
func (l *transparencyLog) verifySET(e *tlogEntry) error {
	if !strings.EqualFold(e.logID, l.logID) {
		return fmt.Errorf("transparency log entry is from log %s, not the trusted log %s", e.logID, l.logID)
	}
	if err := l.verifier.VerifySignature(bytes.NewReader(e.set), bytes.NewReader(e.canonicalPayload())); err != nil {
		return errors.New("transparency log entry's signed entry timestamp does not verify with the trusted log key")
	}
	return nil
}
