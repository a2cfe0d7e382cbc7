// Command certs mints the identities of the mesh benchmark (make bench-mesh, bench/README.md)
// with Outrider's own CA (internal/identity/ca): a fresh root and intermediate, one X509-SVID
// for the client pod and one for the server pod (ECDSA P-256 leaves), and the files that
// `outrider proxy`, HAProxy and nginx read.
//
// Written into --out:
//
//	bundle.pem                 the root (trust bundle; CA file of HAProxy and nginx)
//	client.crt, client.key     the client's chain (leaf, intermediate) and PKCS#8 key
//	server.crt, server.key     the same for the server
//	client.pem, server.pem     chain and key in one file (HAProxy's crt format)
//	policy.json                the allow-all policy: no rule selects the server, so every
//	                           verified mesh identity is allowed ("unselected")
//	endpoints.json             {"<client ip>": <client id>, "<server ip>": <server id>}
//
// Usage: certs --out DIR --client-ip 10.203.7.2 --server-ip 10.203.7.3
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/outrider-sec/outrider/internal/identity/ca"
	"github.com/outrider-sec/outrider/internal/mesh/authz"
)

// namespace of both identities: spiffe://cluster.local/ns/bench/sa/{client,server}.
const namespace = "bench"

// allowAll is the policy both proxies load. An empty policy selects nothing, so the proxy
// allows every peer that presents a verified mesh identity (docs/mesh.md, case 2).
const allowAll = "{}\n"

func main() {
	out := flag.String("out", "", "directory to write into (created)")
	clientIP := flag.String("client-ip", "", "address of the client pod")
	serverIP := flag.String("server-ip", "", "address of the server pod")
	ttl := flag.Duration("ttl", 24*time.Hour, "lifetime of the two leaves")
	flag.Parse()
	if err := run(*out, *clientIP, *serverIP, *ttl); err != nil {
		fmt.Fprintln(os.Stderr, "certs:", err)
		os.Exit(1)
	}
}

func run(out, clientIP, serverIP string, ttl time.Duration) error {
	if out == "" {
		return fmt.Errorf("--out is required")
	}
	addrs := map[string]netip.Addr{}
	for name, s := range map[string]string{"client": clientIP, "server": serverIP} {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("--%s-ip: %w", name, err)
		}
		addrs[name] = a
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	authority, err := ca.New(ca.Config{})
	if err != nil {
		return fmt.Errorf("creating the CA: %w", err)
	}
	root := authority.Bundle().X509Authorities()[0]
	files := map[string][]byte{
		"bundle.pem":  pemBlock("CERTIFICATE", root.Raw),
		"policy.json": []byte(allowAll),
	}
	endpoints := map[string]string{}
	for _, name := range []string{"client", "server"} {
		chain, key, id, err := issue(authority, name, ttl)
		if err != nil {
			return err
		}
		files[name+".crt"] = chain
		files[name+".key"] = key
		files[name+".pem"] = append(append([]byte{}, chain...), key...)
		endpoints[addrs[name].String()] = id
	}
	eps, err := json.MarshalIndent(endpoints, "", "  ")
	if err != nil {
		return err
	}
	files["endpoints.json"] = append(eps, '\n')
	if _, err := authz.Parse(files["policy.json"]); err != nil {
		return fmt.Errorf("the allow-all policy does not parse: %w", err)
	}
	for name, content := range files {
		mode := os.FileMode(0o644)
		if filepath.Ext(name) == ".key" || name == "client.pem" || name == "server.pem" {
			mode = 0o600
		}
		if err := os.WriteFile(filepath.Join(out, name), content, mode); err != nil {
			return err
		}
	}
	return nil
}

// issue generates a P-256 key and has the CA sign an SVID for ns/bench/sa/<name>. It returns
// the PEM chain, the PEM (PKCS#8) key and the SPIFFE ID.
func issue(authority *ca.CA, name string, ttl time.Duration) (chain, key []byte, id string, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, "", err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, k)
	if err != nil {
		return nil, nil, "", err
	}
	svid, err := authority.Issue(ca.IssueRequest{CSR: csr, Namespace: namespace, ServiceAccount: name, TTL: ttl})
	if err != nil {
		return nil, nil, "", fmt.Errorf("issuing %s: %w", name, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, nil, "", err
	}
	return svid.ChainPEM(), pemBlock("PRIVATE KEY", der), svid.ID.String(), nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
