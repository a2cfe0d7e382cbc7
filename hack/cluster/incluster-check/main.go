// Command incluster-check proves, from inside a pod, that the apiserver is
// reachable the way in-cluster clients reach it: the address from
// KUBERNETES_SERVICE_HOST/PORT, TLS verified against the ServiceAccount's
// ca.crt, and the projected token. It prints the server version and the
// identity the apiserver sees (a SelfSubjectReview), and exits non-zero on
// any failure. It ships in the local cluster's busybox test image, whose own
// wget cannot do TLS (Debian's busybox-static segfaults on https).
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "incluster-check: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return fmt.Errorf("KUBERNETES_SERVICE_HOST/PORT not set: not in a pod?")
	}
	token, err := os.ReadFile(saDir + "/token")
	if err != nil {
		return err
	}
	caPEM, err := os.ReadFile(saDir + "/ca.crt")
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("no certificate in %s/ca.crt", saDir)
	}
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}
	base := "https://" + net.JoinHostPort(host, port)
	fmt.Printf("apiserver: %s (TLS verified with the ServiceAccount CA)\n", base)

	version, err := call(client, token, http.MethodGet, base+"/version", nil)
	if err != nil {
		return err
	}
	var v struct{ GitVersion string }
	_ = json.Unmarshal(version, &v)
	fmt.Printf("version: %s\n", v.GitVersion)

	review := []byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`)
	who, err := call(client, token, http.MethodPost, base+"/apis/authentication.k8s.io/v1/selfsubjectreviews", review)
	if err != nil {
		return err
	}
	var r struct {
		Status struct {
			UserInfo struct{ Username string } `json:"userInfo"`
		}
	}
	_ = json.Unmarshal(who, &r)
	fmt.Printf("authenticated as: %s\n", r.Status.UserInfo.Username)
	return nil
}

func call(c *http.Client, token []byte, method, url string, body []byte) ([]byte, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+string(bytes.TrimSpace(token)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, out)
	}
	return out, nil
}
