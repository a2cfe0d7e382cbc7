// Package install renders and installs Outrider's embedded Helm chart (deploy/charts/outrider)
// with the Helm SDK: offline for `outrider install --dry-run`, and install-or-upgrade against a
// cluster otherwise. The binary carries the chart, so installing needs no helm CLI and no
// chart repository.
package install
