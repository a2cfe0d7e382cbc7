package capture

import (
	"context"
	"errors"
	"fmt"
)

// Backend is an iptables backend: the kernel interface the iptables commands program.
type Backend string

// The backends. Rules of both run in the kernel, so a namespace must use one only.
const (
	// BackendNFT is iptables over nf_tables (iptables-nft), Debian's and most distributions'
	// default.
	BackendNFT Backend = "nft"
	// BackendLegacy is the older x_tables interface (iptables-legacy).
	BackendLegacy Backend = "legacy"
)

// ParseBackend parses "nft", "legacy" or "auto" (returned as "": detect).
func ParseBackend(s string) (Backend, error) {
	switch b := Backend(s); b {
	case BackendNFT, BackendLegacy:
		return b, nil
	case "auto", "":
		return "", nil
	}
	return "", fmt.Errorf("backend must be nft, legacy or auto, not %q", s)
}

// other returns the backend that is not b.
func (b Backend) other() Backend {
	if b == BackendNFT {
		return BackendLegacy
	}
	return BackendNFT
}

// tool names the backend's command for family f: "iptables-nft-save", "ip6tables-legacy-restore".
func (b Backend) tool(f Family, verb string) string {
	return fmt.Sprintf("%s-%s-%s", f.command(), b, verb)
}

// save reads the family's tables from the backend.
func (r *runner) save(ctx context.Context, b Backend, f Family) ([]Table, error) {
	out, err := r.run(ctx, "", b.tool(f, "save"))
	if err != nil {
		return nil, err
	}
	tables, err := Parse(out)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", b.tool(f, "save"), err)
	}
	return tables, nil
}

// restore installs a payload with the backend. Tables in the payload are replaced whole;
// the others are left alone. The nft backend commits the payload in one transaction; the
// legacy backend commits table by table (Apply rolls back what a failure leaves).
func (r *runner) restore(ctx context.Context, b Backend, f Family, payload string) error {
	var args []string
	if b == BackendLegacy {
		// Wait for the x_tables lock rather than fail when another writer holds it.
		args = append(args, "--wait=10")
	}
	_, err := r.run(ctx, payload, b.tool(f, "restore"), args...)
	return err
}

// DetectBackend chooses the backend for the namespace at netnsPath ("" for the caller's),
// like kube-proxy's iptables wrapper and Istio do: the one whose tables already hold rules
// (so a second run keeps the first one's choice), and nf_tables when neither holds any and
// it works. Rules in both backends are an error: whichever is chosen,
// the other's rules still run.
func DetectBackend(ctx context.Context, netnsPath string) (Backend, error) {
	r, err := newRunner(netnsPath)
	if err != nil {
		return "", err
	}
	defer r.close()
	return r.detect(ctx, families())
}

func (r *runner) detect(ctx context.Context, fams []Family) (Backend, error) {
	type state struct {
		usable bool
		rules  int // rules and user chains
		err    error
	}
	states := map[Backend]*state{}
	for _, b := range []Backend{BackendNFT, BackendLegacy} {
		s := &state{usable: true}
		states[b] = s
		for _, f := range fams {
			tables, err := r.save(ctx, b, f)
			if err != nil {
				s.usable, s.err = false, errors.Join(s.err, err)
				continue
			}
			for _, t := range tables {
				s.rules += len(t.Rules) + len(t.userChains())
			}
		}
	}
	nft, legacy := states[BackendNFT], states[BackendLegacy]
	switch {
	case nft.rules > 0 && legacy.rules > 0:
		return "", fmt.Errorf("both iptables backends hold rules in this namespace (nft %d, legacy %d); both run, so the capture cannot be made exact", nft.rules, legacy.rules)
	case nft.rules > 0:
		return BackendNFT, nil
	case legacy.rules > 0:
		return BackendLegacy, nil
	case nft.usable:
		return BackendNFT, nil
	case legacy.usable:
		return BackendLegacy, nil
	}
	return "", fmt.Errorf("no iptables backend works: %w", errors.Join(nft.err, legacy.err))
}
