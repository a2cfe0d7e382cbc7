// Package deploy carries Outrider's Helm chart inside the binary, so `outrider install` needs
// nothing but itself.
package deploy

import (
	"embed"
	"io/fs"
)

// Chart holds the chart directory charts/outrider (dotfiles included), with its generated CRDs.
//
//go:embed all:charts/outrider
var Chart embed.FS

// ChartRoot is the chart's directory inside Chart.
const ChartRoot = "charts/outrider"

// ChartFS returns the chart rooted at its own directory: Chart.yaml, values.yaml, templates/,
// crds/.
func ChartFS() fs.FS {
	sub, err := fs.Sub(Chart, ChartRoot)
	if err != nil {
		// fs.Sub only fails on an invalid path, and ChartRoot is a valid constant.
		return Chart
	}
	return sub
}
