// Package report renders the result of a scan for people and machines: text (grouped by
// resource, colour on a terminal), JSON, SARIF 2.1.0 and JUnit XML. Rendering happens here
// and nowhere else; the engine only produces findings.
package report
