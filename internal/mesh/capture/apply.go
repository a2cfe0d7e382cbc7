package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
)

// Options say where Apply and Verify work.
type Options struct {
	// NetNS is the path of the network namespace to program ("/proc/<pid>/ns/net",
	// "/run/netns/<name>"). Default: the caller's own, which is what an init container wants.
	NetNS string
	// Backend is the iptables backend. Default: detected (DetectBackend).
	Backend Backend
	// Log receives progress. Default: discard.
	Log *slog.Logger
}

// Result says what Apply or Verify did.
type Result struct {
	Backend  Backend
	Families []Family
	// Rules counts the rules installed or verified, all families together.
	Rules int
	// Replaced lists rules that the filter and nat tables held before Apply and that were
	// not the capture's; Apply replaces those tables whole.
	Replaced []string
}

// families returns the families to capture: IPv4, and IPv6 whenever the kernel has it. An
// interface's IPv6 link-local address alone lets a neighbour reach the application, so IPv6
// is captured even in a pod without an IPv6 address of its own.
func families() []Family {
	if _, err := os.Stat("/proc/sys/net/ipv6"); err == nil {
		return []Family{IPv4, IPv6}
	}
	return []Family{IPv4}
}

// expected returns the tables the capture installs, per family.
func expected(cfg Config) (map[Family][]Table, error) {
	want := make(map[Family][]Table)
	for _, f := range []Family{IPv4, IPv6} {
		tables, err := Rules(cfg, f)
		if err != nil {
			return nil, fmt.Errorf("capture configuration: %w", err)
		}
		want[f] = tables
	}
	return want, nil
}

func countRules(want map[Family][]Table) int {
	n := 0
	for _, f := range families() {
		for _, t := range want[f] {
			n += len(t.Rules)
		}
	}
	return n
}

// Apply installs the capture rules for cfg and verifies them.
//
// Before it changes anything it refuses a namespace whose other tables (mangle, raw,
// security) or whose other backend hold rules: they run beside the capture and could take
// packets around it, and Apply does not delete what it did not write. Then, family by
// family, it replaces the filter and nat tables whole with iptables-restore, and reads them
// back (Verify). If installing fails, the tables are restored as they were, in every
// family; the error says what failed. Running Apply again gives the same rules.
func Apply(ctx context.Context, cfg Config, opts Options) (Result, error) {
	want, err := expected(cfg)
	if err != nil {
		return Result{}, err
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r, err := newRunner(opts.NetNS)
	if err != nil {
		return Result{}, err
	}
	defer r.close()
	res := Result{Backend: opts.Backend, Families: families(), Rules: countRules(want)}
	if res.Backend == "" {
		if res.Backend, err = r.detect(ctx, res.Families); err != nil {
			return res, err
		}
	}
	b := res.Backend
	before, replaced, err := r.precheck(ctx, b, res.Families, want)
	res.Replaced = replaced
	if err != nil {
		return res, err
	}
	for _, rule := range res.Replaced {
		log.Warn("replacing a rule the capture did not write", "rule", rule)
	}
	payloads := make(map[Family]string)
	for _, f := range res.Families {
		payloads[f] = Render(want[f])
	}
	if err := r.install(ctx, b, res.Families, payloads, before, log); err != nil {
		return res, err
	}
	if err := r.verify(ctx, b, res.Families, want); err != nil {
		return res, err
	}
	log.Info("capture rules installed and verified", "backend", string(b), "families", fmt.Sprint(res.Families), "rules", res.Rules)
	return res, nil
}

// precheck reads the tables Apply is about to replace, and lists the rules in them that are
// not the capture's. Rules in tables Apply does not own, or in the other backend, are an
// error: nothing is changed.
func (r *runner) precheck(ctx context.Context, b Backend, fams []Family, want map[Family][]Table) (before map[Family][]Table, replaced []string, err error) {
	before = make(map[Family][]Table)
	var problems []string
	for _, f := range fams {
		tables, err := r.save(ctx, b, f)
		if err != nil {
			return nil, nil, fmt.Errorf("reading the current %s rules: %w", f, err)
		}
		before[f] = tables
		for _, t := range tables {
			w, owned := findTable(want[f], t.Name)
			if !owned {
				for _, p := range foreign(t) {
					problems = append(problems, fmt.Sprintf("%s %s: %s", f, t.Name, p))
				}
				continue
			}
			for _, c := range difference(t.userChains(), w.userChains()) {
				replaced = append(replaced, fmt.Sprintf("%s %s: chain %s", f, t.Name, c))
			}
			for _, rule := range difference(t.Rules, w.Rules) {
				replaced = append(replaced, fmt.Sprintf("%s %s: %s", f, t.Name, rule))
			}
		}
		problems = append(problems, r.otherBackend(ctx, b, f)...)
	}
	if len(problems) > 0 {
		return before, replaced, &MismatchError{What: "the namespace holds rules that could take packets around the capture; nothing was changed", Backend: b, Problems: problems}
	}
	return before, replaced, nil
}

// install restores each family's payload. On a failure it restores the owned tables of every
// family it touched, the failed one included (the legacy backend commits table by table),
// to what before holds.
func (r *runner) install(ctx context.Context, b Backend, fams []Family, payloads map[Family]string, before map[Family][]Table, log *slog.Logger) error {
	for i, f := range fams {
		err := r.restore(ctx, b, f, payloads[f])
		if err == nil {
			log.Debug("rules restored", "backend", string(b), "family", f.String())
			continue
		}
		err = fmt.Errorf("installing the %s rules with %s: %w", f, b.tool(f, "restore"), err)
		if rerr := r.rollback(ctx, b, fams[:i+1], before); rerr != nil {
			return errors.Join(err, fmt.Errorf("restoring the previous rules also failed, the namespace is in an unknown state: %w", rerr))
		}
		return fmt.Errorf("%w (the previous rules were restored)", err)
	}
	return nil
}

// rollback puts the owned tables of fams back as before holds them; a table that did not
// exist comes back empty, which does the same.
func (r *runner) rollback(ctx context.Context, b Backend, fams []Family, before map[Family][]Table) error {
	var errs []error
	for _, f := range slices.Backward(fams) {
		var tables []Table
		for _, name := range OwnedTables {
			t, ok := findTable(before[f], name)
			if !ok {
				t = emptyTable(name)
			}
			tables = append(tables, t)
		}
		if err := r.restore(ctx, b, f, Render(tables)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f, err))
		}
	}
	return errors.Join(errs...)
}
