package policy

import "github.com/outrider-sec/outrider/internal/severity"

// Severity ranks a finding, from info (lowest) to critical (highest).
type Severity = severity.Severity

// The severities, lowest first.
const (
	SeverityInfo     = severity.Info
	SeverityLow      = severity.Low
	SeverityMedium   = severity.Medium
	SeverityHigh     = severity.High
	SeverityCritical = severity.Critical
)

// Severities lists every severity, highest first.
var Severities = severity.All

// ParseSeverity reads a severity name, case-insensitively.
func ParseSeverity(s string) (Severity, error) { return severity.Parse(s) }
