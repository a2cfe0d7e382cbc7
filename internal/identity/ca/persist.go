package ca

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"
)

// The persisted state is a sequence of PEM blocks, so it fits a Kubernetes Secret and can be
// read with standard tools. A header block carries the format version and trust domain; every
// other block carries a Role header, and replaced roots a Trusted-Until header.
const (
	stateBlockType = "OUTRIDER CA STATE"
	stateVersion   = "1"
	maxStateSize   = 1 << 20

	roleRoot                = "root"
	roleIntermediate        = "intermediate"
	rolePendingRoot         = "pending-root"
	rolePendingIntermediate = "pending-intermediate"
	roleRetiredRoot         = "retired-root"
)

// Marshal returns the CA state as PEM: active root (with its key if the CA holds it),
// intermediate and key, a prepared rotation, and replaced roots still in their overlap. The
// output contains private keys: store it as a Secret readable by the identity service alone.
func (c *CA) Marshal() ([]byte, error) {
	st := c.state.Load()
	now := c.cfg.Now()
	out := pem.EncodeToMemory(&pem.Block{Type: stateBlockType, Headers: map[string]string{
		"Version": stateVersion, "Trust-Domain": c.td.Name(),
	}})
	add := func(role string, a Authority, extra map[string]string) error {
		var err error
		out, err = appendAuthority(out, role, a, extra)
		return err
	}
	if err := add(roleRoot, st.active, nil); err != nil {
		return nil, err
	}
	if p := st.pending; p != nil {
		at := map[string]string{"Prepared-At": p.preparedAt.UTC().Format(time.RFC3339Nano)}
		if err := add(rolePendingRoot, p.Authority, at); err != nil {
			return nil, err
		}
	}
	for _, r := range st.liveRetired(now) {
		out = append(out, certBlock(roleRetiredRoot, r.cert, map[string]string{"Trusted-Until": r.until.UTC().Format(time.RFC3339Nano)})...)
	}
	return out, nil
}

// appendAuthority writes root, root key, intermediate, intermediate key (those present).
func appendAuthority(out []byte, rootRole string, a Authority, extra map[string]string) ([]byte, error) {
	interRole := roleIntermediate
	if rootRole == rolePendingRoot {
		interRole = rolePendingIntermediate
	}
	out = append(out, certBlock(rootRole, a.Root, extra)...)
	pairs := []struct {
		role string
		cert *x509.Certificate
		key  crypto.Signer
	}{{rootRole, nil, a.RootKey}, {interRole, a.Intermediate, a.IntermediateKey}}
	for _, p := range pairs {
		if p.cert != nil {
			out = append(out, certBlock(p.role, p.cert, nil)...)
		}
		if p.key == nil {
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(p.key)
		if err != nil {
			return nil, fmt.Errorf("%w: encoding %s key (%T)", ErrInvalidState, p.role, p.key)
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Role": p.role}, Bytes: der})...)
	}
	return out, nil
}

func certBlock(role string, cert *x509.Certificate, extra map[string]string) []byte {
	h := map[string]string{"Role": role}
	for k, v := range extra {
		h[k] = v
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: h, Bytes: cert.Raw})
}

// Load restores a CA from Marshal's output. cfg supplies lifetimes and the clock;
// cfg.Authority must be nil and cfg.TrustDomain, if set, must match the stored one. Everything
// is validated as in New and PrepareRotation; replaced roots past their overlap are dropped.
func Load(cfg Config, data []byte) (*CA, error) {
	if cfg.Authority != nil {
		return nil, fmt.Errorf("%w: Load takes the authority from the state, not from Config", ErrConfig)
	}
	ps, err := parseState(data)
	if err != nil {
		return nil, err
	}
	if cfg.TrustDomain != "" && cfg.TrustDomain != ps.trustDomain {
		return nil, fmt.Errorf("%w: stored trust domain %s, configured %s", ErrInvalidState, quote(ps.trustDomain), quote(cfg.TrustDomain))
	}
	cfg.TrustDomain = ps.trustDomain
	c, err := newCA(cfg)
	if err != nil {
		return nil, err
	}
	return c, c.restore(ps)
}

func (c *CA) restore(ps *parsedState) error {
	now := c.cfg.Now()
	active := ps.auth[roleRoot]
	if err := checkRoot(active.Root, active.RootKey, now); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidState, err)
	}
	if err := checkIntermediate(active.Intermediate, active.IntermediateKey, active.Root, now); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidState, err)
	}
	st := &state{active: *active, retired: ps.retired}
	if p := ps.auth[rolePendingRoot]; p != nil {
		if err := c.checkNext(*p, st, now); err != nil {
			return fmt.Errorf("%w: pending rotation: %w", ErrInvalidState, err)
		}
		st.pending = &pendingRoot{Authority: *p, preparedAt: ps.preparedAt}
	}
	st.retired = st.liveRetired(now)
	c.state.Store(st)
	return nil
}

type parsedState struct {
	trustDomain string
	auth        map[string]*Authority // by root role
	preparedAt  time.Time
	retired     []retiredRoot
}

func parseState(data []byte) (*parsedState, error) {
	if len(data) > maxStateSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrInvalidState, len(data))
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != stateBlockType {
		return nil, fmt.Errorf("%w: missing %s header block", ErrInvalidState, stateBlockType)
	}
	if v := block.Headers["Version"]; v != stateVersion {
		return nil, fmt.Errorf("%w: version %s (want %s)", ErrInvalidState, quote(v), stateVersion)
	}
	ps := &parsedState{trustDomain: block.Headers["Trust-Domain"], auth: map[string]*Authority{}}
	if ps.trustDomain == "" {
		return nil, fmt.Errorf("%w: no trust domain", ErrInvalidState)
	}
	seen := map[string]bool{}
	for {
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if err := ps.add(block, seen); err != nil {
			return nil, err
		}
	}
	if ps.auth[roleRoot] == nil {
		return nil, fmt.Errorf("%w: no active root", ErrInvalidState)
	}
	return ps, nil
}

func (ps *parsedState) add(b *pem.Block, seen map[string]bool) error {
	role := b.Headers["Role"]
	slot := b.Type + "/" + role
	if seen[slot] && role != roleRetiredRoot {
		return fmt.Errorf("%w: duplicate %s block %s", ErrInvalidState, b.Type, quote(role))
	}
	seen[slot] = true
	switch b.Type {
	case "CERTIFICATE":
		return ps.addCert(role, b)
	case "PRIVATE KEY":
		return ps.addKey(role, b)
	}
	return fmt.Errorf("%w: unexpected block %s", ErrInvalidState, quote(b.Type))
}

func (ps *parsedState) addCert(role string, b *pem.Block) error {
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return fmt.Errorf("%w: %s certificate: %v", ErrInvalidState, quote(role), err)
	}
	switch role {
	case roleRetiredRoot:
		until, err := time.Parse(time.RFC3339Nano, b.Headers["Trusted-Until"])
		if err != nil {
			return fmt.Errorf("%w: retired root without a valid Trusted-Until", ErrInvalidState)
		}
		ps.retired = append(ps.retired, retiredRoot{cert: cert, until: until})
	case roleRoot, rolePendingRoot:
		ps.authority(role).Root = cert
		if role == rolePendingRoot {
			if ps.preparedAt, err = time.Parse(time.RFC3339Nano, b.Headers["Prepared-At"]); err != nil {
				return fmt.Errorf("%w: pending root without a valid Prepared-At", ErrInvalidState)
			}
		}
	case roleIntermediate, rolePendingIntermediate:
		ps.authority(role).Intermediate = cert
	default:
		return fmt.Errorf("%w: unknown certificate role %s", ErrInvalidState, quote(role))
	}
	return nil
}

func (ps *parsedState) addKey(role string, b *pem.Block) error {
	key, err := parseKeyDER(b.Type, b.Bytes)
	if err != nil {
		return fmt.Errorf("%w: %s key: %w", ErrInvalidState, quote(role), err)
	}
	switch role {
	case roleRoot, rolePendingRoot:
		ps.authority(role).RootKey = key
	case roleIntermediate, rolePendingIntermediate:
		ps.authority(role).IntermediateKey = key
	default:
		return fmt.Errorf("%w: unknown key role %s", ErrInvalidState, quote(role))
	}
	return nil
}

// authority returns the Authority a role belongs to, creating it.
func (ps *parsedState) authority(role string) *Authority {
	root := roleRoot
	if role == rolePendingRoot || role == rolePendingIntermediate {
		root = rolePendingRoot
	}
	if ps.auth[root] == nil {
		ps.auth[root] = &Authority{}
	}
	return ps.auth[root]
}
