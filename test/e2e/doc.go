// Package e2e tests Outrider against the real local cluster (`make up`, docs/local-cluster.md):
// every test tries an attack or a documented behaviour through the API server, as a user would.
// The tests are built only with the e2e tag; run them with `make e2e`.
package e2e
