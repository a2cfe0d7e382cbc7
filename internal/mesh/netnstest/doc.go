// Package netnstest builds small networks of Linux network namespaces for tests: nodes joined
// by veth pairs to a bridge that lives in a namespace of its own, so a test changes nothing in
// the host's namespace. It also installs iptables rules in a node and captures packets on the
// bridge. Everything is removed in t.Cleanup, also when the test fails.
//
// The tests need root and the ip and iptables-restore commands; without them they fail with a
// message that says so, rather than skip.
package netnstest
