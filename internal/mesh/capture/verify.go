package capture

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// MismatchError says how the rules in a namespace differ from the capture's: each problem is
// one missing, unexpected or misplaced rule or chain.
type MismatchError struct {
	What     string // "the capture rules are not in place", ...
	Backend  Backend
	Problems []string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s (%s backend):\n  - %s", e.What, e.Backend, strings.Join(e.Problems, "\n  - "))
}

// Verify reads the rules of the namespace back and compares them with the ones Apply installs
// for cfg. It returns a *MismatchError unless, for every family: the filter and nat tables
// hold exactly the capture's chains and rules; every other table is empty (a MARK rule in
// mangle or a NOTRACK rule in raw could take packets around the capture); and the other
// backend holds nothing (its rules run too). With opts.Backend empty, the backend is detected.
func Verify(ctx context.Context, cfg Config, opts Options) (Result, error) {
	want, err := expected(cfg)
	if err != nil {
		return Result{}, err
	}
	r, err := newRunner(opts.NetNS)
	if err != nil {
		return Result{}, err
	}
	defer r.close()
	res := Result{Backend: opts.Backend, Families: families()}
	if res.Backend == "" {
		if res.Backend, err = r.detect(ctx, res.Families); err != nil {
			return res, err
		}
	}
	res.Rules = countRules(want)
	return res, r.verify(ctx, res.Backend, res.Families, want)
}

// verify compares the namespace's tables with want; differences make a *MismatchError.
func (r *runner) verify(ctx context.Context, b Backend, fams []Family, want map[Family][]Table) error {
	var problems []string
	for _, f := range fams {
		got, err := r.save(ctx, b, f)
		if err != nil {
			return fmt.Errorf("reading the %s rules back: %w", f, err)
		}
		problems = append(problems, compare(f, want[f], got)...)
		problems = append(problems, r.otherBackend(ctx, b, f)...)
	}
	if len(problems) > 0 {
		return &MismatchError{What: "the capture rules are not in place", Backend: b, Problems: problems}
	}
	return nil
}

// otherBackend lists the rules of the backend that is not b: they would run beside the
// capture's. A backend the kernel lacks reads as empty; one that cannot be read (without
// CAP_NET_RAW, the legacy backend cannot) is a problem, since its rules would go unchecked.
func (r *runner) otherBackend(ctx context.Context, b Backend, f Family) []string {
	tables, err := r.save(ctx, b.other(), f)
	if err != nil {
		return []string{fmt.Sprintf("%s %s backend: cannot be read, so rules there would run unchecked: %v", f, b.other(), err)}
	}
	var problems []string
	for _, t := range tables {
		for _, p := range foreign(t) {
			problems = append(problems, fmt.Sprintf("%s %s backend %s: %s", f, b.other(), t.Name, p))
		}
	}
	return problems
}

// foreign lists what a table holds that nothing but the capture may: any rule or user chain.
func foreign(t Table) []string {
	var out []string
	for _, c := range t.userChains() {
		out = append(out, "unexpected chain "+c)
	}
	for _, r := range t.Rules {
		out = append(out, "unexpected rule: "+r)
	}
	return out
}

// compare lists the differences between the tables the capture wants and the ones read back.
func compare(f Family, want, got []Table) []string {
	var problems []string
	add := func(table, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s %s: ", f, table)+fmt.Sprintf(format, args...))
	}
	for _, w := range want {
		g, ok := findTable(got, w.Name)
		if !ok {
			add(w.Name, "the table is missing")
			continue
		}
		wc, gc := chainPolicies(w), chainPolicies(g)
		for _, name := range slices.Sorted(maps.Keys(wc)) {
			switch p, ok := gc[name]; {
			case !ok:
				add(w.Name, "chain %s is missing", name)
			case p != wc[name]:
				add(w.Name, "chain %s has policy %s, want %s", name, p, wc[name])
			}
		}
		for _, name := range slices.Sorted(maps.Keys(gc)) {
			if _, ok := wc[name]; !ok {
				add(w.Name, "unexpected chain %s", name)
			}
		}
		wr, gr := w.chainRules(), g.chainRules()
		chains := slices.Collect(maps.Keys(wr))
		for k := range gr {
			if _, ok := wr[k]; !ok {
				chains = append(chains, k)
			}
		}
		slices.Sort(chains)
		for _, chain := range chains {
			if slices.Equal(wr[chain], gr[chain]) {
				continue
			}
			missing, extra := difference(wr[chain], gr[chain]), difference(gr[chain], wr[chain])
			for _, r := range missing {
				add(w.Name, "missing rule: %s", r)
			}
			for _, r := range extra {
				add(w.Name, "unexpected rule: %s", r)
			}
			if len(missing) == 0 && len(extra) == 0 {
				add(w.Name, "the rules of chain %s are out of order", chain)
			}
		}
	}
	for _, g := range got {
		if _, ok := findTable(want, g.Name); ok {
			continue
		}
		for _, p := range foreign(g) {
			add(g.Name, "%s", p)
		}
	}
	return problems
}

func chainPolicies(t Table) map[string]string {
	m := make(map[string]string, len(t.Chains))
	for _, c := range t.Chains {
		m[c.Name] = c.Policy
	}
	return m
}

// difference returns the elements of a that b lacks, counting repeats.
func difference(a, b []string) []string {
	left := make(map[string]int, len(b))
	for _, s := range b {
		left[s]++
	}
	var out []string
	for _, s := range a {
		if left[s] > 0 {
			left[s]--
			continue
		}
		out = append(out, s)
	}
	return out
}
