package ca

import (
	"bytes"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestMarshalLoadRoundTrip(t *testing.T) {
	c, clk := newTestCA(t, nil)
	leafA := mustIssue(t, c, req(csrDER(t, p256(t), nil)))
	// A state with every kind of block: active, retired, pending.
	if err := c.PrepareRotation(nil); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	if err := c.CommitRotation(); err != nil {
		t.Fatal(err)
	}
	if err := c.PrepareRotation(nil); err != nil {
		t.Fatal(err)
	}
	data, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Load(Config{Now: clk.Now}, data)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Root().Equal(c.Root()) || !got.Intermediate().Equal(c.Intermediate()) {
		t.Error("active authority differs after Load")
	}
	if !got.Bundle().Equal(c.Bundle()) || len(got.Bundle().X509Authorities()) != 3 {
		t.Errorf("bundle differs after Load: %d roots", len(got.Bundle().X509Authorities()))
	}
	if at, ok := got.RotationPreparedAt(); !ok || !at.Equal(clk.Now()) {
		t.Errorf("pending rotation lost: %v %v", at, ok)
	}
	again, _ := got.Marshal()
	if !bytes.Equal(again, data) {
		t.Error("Marshal(Load(x)) != x")
	}
	// The loaded CA issues, the old leaf still verifies, and the retired root keeps its expiry.
	s := mustIssue(t, got, req(csrDER(t, p256(t), nil)))
	for _, l := range []*SVID{leafA, s} {
		if _, err := verifyAt(l, got.Bundle(), clk.Now()); err != nil {
			t.Errorf("verify after Load: %v", err)
		}
	}
	clk.Advance(DefaultMaxTTL + time.Hour)
	if n := len(got.Bundle().X509Authorities()); n != 2 {
		t.Errorf("retired root outlived its overlap after Load: %d roots", n)
	}
}

func TestMarshalColdRoot(t *testing.T) {
	c, clk := newTestCA(t, nil)
	a := c.state.Load().active
	cold, err := New(Config{Now: clk.Now, Authority: &Authority{Root: a.Root, Intermediate: a.Intermediate, IntermediateKey: a.IntermediateKey}})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := cold.Marshal()
	if n := bytes.Count(data, []byte("BEGIN PRIVATE KEY")); n != 1 {
		t.Errorf("cold-root state has %d keys, want only the intermediate's", n)
	}
	got, err := Load(Config{Now: clk.Now}, data)
	if err != nil {
		t.Fatal(err)
	}
	if got.state.Load().active.RootKey != nil {
		t.Error("root key appeared from nowhere")
	}
}

func TestLoadRefuses(t *testing.T) {
	c, clk := newTestCA(t, nil)
	data, _ := c.Marshal()
	other, _ := newTestCA(t, nil)
	otherData, _ := other.Marshal()
	blocks := splitPEM(data) // header, root, root key, intermediate, intermediate key
	otherBlocks := splitPEM(otherData)
	join := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	tests := map[string]struct {
		cfg  Config
		data []byte
		want error
	}{
		"empty":                {Config{}, nil, ErrInvalidState},
		"garbage":              {Config{}, []byte("hello"), ErrInvalidState},
		"no header":            {Config{}, join(blocks[1:]...), ErrInvalidState},
		"wrong version":        {Config{}, bytes.Replace(data, []byte("Version: 1"), []byte("Version: 9"), 1), ErrInvalidState},
		"other trust domain":   {Config{TrustDomain: "example.org"}, data, ErrInvalidState},
		"authority in config":  {Config{Authority: &Authority{}}, data, ErrConfig},
		"no intermediate":      {Config{}, join(blocks[:3]...), ErrInvalidState},
		"foreign intermediate": {Config{}, join(blocks[0], blocks[1], blocks[2], otherBlocks[3], otherBlocks[4]), ErrInvalidState},
		"swapped keys":         {Config{}, join(blocks[0], blocks[1], otherBlocks[2], blocks[3], blocks[4]), ErrInvalidState},
		"duplicate root":       {Config{}, join(blocks[0], blocks[1], blocks[1], blocks[3], blocks[4]), ErrInvalidState},
		"unknown role":         {Config{}, bytes.Replace(data, []byte("Role: intermediate"), []byte("Role: mystery"), 1), ErrInvalidState},
		"corrupt key":          {Config{}, join(blocks[0], blocks[1], blocks[2], blocks[3], corrupt(blocks[4])), ErrInvalidState},
		"huge":                 {Config{}, make([]byte, maxStateSize+1), ErrInvalidState},
	}
	secret := string(blocks[4][60:100])
	for name, tt := range tests {
		tt.cfg.Now = clk.Now
		_, err := Load(tt.cfg, tt.data)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", name, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error contains key material", name)
		}
	}
	clk.Advance(DefaultIntermediateTTL + time.Hour)
	if _, err := Load(Config{Now: clk.Now}, data); !errors.Is(err, ErrCAExpired) {
		t.Errorf("expired intermediate: %v", err)
	}
}

func splitPEM(data []byte) [][]byte {
	var out [][]byte
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return out
		}
		out = append(out, pem.EncodeToMemory(b))
	}
}

func corrupt(block []byte) []byte {
	b, _ := pem.Decode(block)
	b.Bytes = b.Bytes[:len(b.Bytes)/2]
	return pem.EncodeToMemory(b)
}
