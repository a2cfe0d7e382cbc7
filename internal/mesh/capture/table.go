package capture

import (
	"bufio"
	"fmt"
	"strings"
)

// Table is one iptables table in the form iptables-save prints and iptables-restore reads:
// its chains, then its rules ("-A CHAIN ..."), each in order.
type Table struct {
	Name   string
	Chains []Chain
	Rules  []string
}

// Chain is a chain declaration. Built-in chains have a policy (ACCEPT, DROP); user chains "-".
type Chain struct {
	Name   string
	Policy string
}

// builtinChains are the chains each table the rules write has from the start, in the order
// iptables-save prints them.
var builtinChains = map[string][]string{
	"filter": {"INPUT", "FORWARD", "OUTPUT"},
	"nat":    {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"},
}

// emptyTable is a table with its built-in chains accepting and no rule: what a namespace
// starts with, and what Apply restores when it rolls back a table that did not exist.
func emptyTable(name string) Table {
	t := Table{Name: name}
	for _, c := range builtinChains[name] {
		t.Chains = append(t.Chains, Chain{Name: c, Policy: "ACCEPT"})
	}
	return t
}

// Render writes tables as an iptables-restore payload. Counters are zero.
func Render(tables []Table) string {
	var b strings.Builder
	for _, t := range tables {
		fmt.Fprintf(&b, "*%s\n", t.Name)
		for _, c := range t.Chains {
			fmt.Fprintf(&b, ":%s %s [0:0]\n", c.Name, c.Policy)
		}
		for _, r := range t.Rules {
			b.WriteString(r)
			b.WriteByte('\n')
		}
		b.WriteString("COMMIT\n")
	}
	return b.String()
}

// Parse reads iptables-save output. Comments and counters are dropped, and runs of spaces
// in rules are folded into one, so that two dumps of the same rules compare equal.
func Parse(text string) ([]Table, error) {
	var tables []Table
	var cur *Table
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "*"):
			if cur != nil {
				return nil, fmt.Errorf("line %d: table %s starts before table %s is committed", n, line[1:], cur.Name)
			}
			tables = append(tables, Table{Name: line[1:]})
			cur = &tables[len(tables)-1]
		case cur == nil:
			return nil, fmt.Errorf("line %d: %q is outside any table", n, line)
		case line == "COMMIT":
			cur = nil
		case strings.HasPrefix(line, ":"):
			f := strings.Fields(line[1:])
			if len(f) < 2 {
				return nil, fmt.Errorf("line %d: malformed chain %q", n, line)
			}
			cur.Chains = append(cur.Chains, Chain{Name: f[0], Policy: f[1]})
		case strings.HasPrefix(line, "-A "):
			cur.Rules = append(cur.Rules, strings.Join(strings.Fields(line), " "))
		default:
			return nil, fmt.Errorf("line %d: unexpected %q", n, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur != nil {
		return nil, fmt.Errorf("table %s is not committed", cur.Name)
	}
	return tables, nil
}

// ruleChain returns the chain a "-A CHAIN ..." rule is in.
func ruleChain(rule string) string {
	f := strings.Fields(rule)
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

// chainRules returns the rules of each chain, in order.
func (t Table) chainRules() map[string][]string {
	m := make(map[string][]string)
	for _, r := range t.Rules {
		m[ruleChain(r)] = append(m[ruleChain(r)], r)
	}
	return m
}

// userChains returns the chains that are not built in, whatever the table.
func (t Table) userChains() []string {
	var out []string
	for _, c := range t.Chains {
		if c.Policy == "-" {
			out = append(out, c.Name)
		}
	}
	return out
}

// empty reports whether the table has no rule and no user chain: it then does nothing.
func (t Table) empty() bool { return len(t.Rules) == 0 && len(t.userChains()) == 0 }

func findTable(tables []Table, name string) (Table, bool) {
	for _, t := range tables {
		if t.Name == name {
			return t, true
		}
	}
	return Table{}, false
}
