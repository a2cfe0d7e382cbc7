// Package severity is the one ranking of findings every part of Outrider shares: policy
// findings, vulnerability reports and every report format.
package severity

import (
	"fmt"
	"strings"
)

// Severity ranks a finding, from info (lowest) to critical (highest).
type Severity string

// The severities, lowest first.
const (
	Info     Severity = "info"
	Low      Severity = "low"
	Medium   Severity = "medium"
	High     Severity = "high"
	Critical Severity = "critical"
)

// All lists every severity, highest first.
var All = []Severity{Critical, High, Medium, Low, Info}

// Rank orders severities: info is 1, critical is 5, an unknown severity is 0.
func (s Severity) Rank() int {
	switch s {
	case Info:
		return 1
	case Low:
		return 2
	case Medium:
		return 3
	case High:
		return 4
	case Critical:
		return 5
	}
	return 0
}

// AtLeast reports whether s is as severe as min or more.
func (s Severity) AtLeast(min Severity) bool { return s.Rank() >= min.Rank() }

// Parse reads a severity name, case-insensitively.
func Parse(s string) (Severity, error) {
	sev := Severity(strings.ToLower(strings.TrimSpace(s)))
	if sev.Rank() == 0 {
		return "", fmt.Errorf("unknown severity %q (want critical, high, medium, low or info)", s)
	}
	return sev, nil
}
