package castore

import (
	"context"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/outrider-sec/outrider/internal/identity/ca"
)

func TestOpenCreatesOnceAndReplicasAgree(t *testing.T) {
	api, clk := newSecretAPI(), &clock{now: t0}
	a := openReplica(t, api, clk, nil)
	b := openReplica(t, api, clk, nil)
	if !a.CA().Root().Equal(b.CA().Root()) || !a.CA().Intermediate().Equal(b.CA().Intermediate()) {
		t.Fatal("two replicas opened different CAs")
	}
	sec := api.get(DefaultStateSecret)
	if sec == nil || len(sec.Data[StateKey]) == 0 {
		t.Fatal("no state Secret written")
	}
}

func TestOpenImportsTheOperatorsRoot(t *testing.T) {
	api, clk := newSecretAPI(), &clock{now: t0}
	gen, err := ca.New(ca.Config{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	state, _ := gen.Marshal()
	rootPEM, keyPEM := rootAndKey(t, state)
	if _, err := api.CoreV1().Secrets("outrider").Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "operator-root", Namespace: "outrider"},
		Data:       map[string][]byte{RootCertKey: rootPEM, RootKeyKey: keyPEM},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := openReplica(t, api, clk, func(c *Config) { c.RootSecret = "operator-root" })
	if !r.CA().Root().Equal(gen.Root()) {
		t.Error("the operator's root was not used")
	}
}

// rootAndKey picks the active root and its key out of a marshalled state.
func rootAndKey(t *testing.T, state []byte) (cert, key []byte) {
	t.Helper()
	for b, rest := pem.Decode(state); b != nil; b, rest = pem.Decode(rest) {
		if b.Headers["Role"] != "root" {
			continue
		}
		plain := &pem.Block{Type: b.Type, Bytes: b.Bytes}
		if b.Type == "CERTIFICATE" {
			cert = pem.EncodeToMemory(plain)
		} else {
			key = pem.EncodeToMemory(plain)
		}
	}
	return cert, key
}

// TestRenewalRaceHasOneWinner: both replicas find the intermediate due at once; one writes, the
// other loses the race, re-reads, finds nothing due and adopts the winner's intermediate.
func TestRenewalRaceHasOneWinner(t *testing.T) {
	api, clk := newSecretAPI(), &clock{now: t0}
	a := openReplica(t, api, clk, nil)
	b := openReplica(t, api, clk, nil)
	old := a.CA().Intermediate()
	clk.Advance(a.CA().IntermediateRenewalDue().Sub(clk.Now()))
	api.conflicts = 1 // a's first write loses to a phantom writer, and is redone
	a.tick(api)
	b.Store.tick(context.Background(), nil) // b has not seen a's write: it re-reads, finds nothing due, adopts
	if a.CA().Intermediate().Equal(old) {
		t.Fatal("the intermediate was not renewed")
	}
	if !a.CA().Intermediate().Equal(b.CA().Intermediate()) {
		t.Fatal("the replicas disagree on the intermediate after the race")
	}
	if api.updates != 1 {
		t.Errorf("%d Secret writes, want 1", api.updates)
	}
}

// TestRootRotationByAnnotation walks prepare → automatic commit → end of overlap, as an operator
// triggers it, checking the bundle each replica would push at every step.
func TestRootRotationByAnnotation(t *testing.T) {
	api, clk := newSecretAPI(), &clock{now: t0}
	a := openReplica(t, api, clk, nil)
	b := openReplica(t, api, clk, nil)
	oldRoot := a.CA().Root()

	api.annotate(t, DefaultStateSecret, AnnotationRotate, "r1")
	if wait := a.tick(api); wait > 10*time.Minute {
		t.Errorf("next wake-up in %v, want by the commit (10m)", wait)
	}
	b.tick(api)
	for name, r := range map[string]*replica{"a": a, "b": b} {
		if n := roots(r.CA()); n != 2 {
			t.Fatalf("replica %s: %d roots after prepare, want old and new", name, n)
		}
		if !r.CA().Root().Equal(oldRoot) {
			t.Fatalf("replica %s signs with the new root before the commit", name)
		}
	}
	sec := api.get(DefaultStateSecret)
	if sec.Annotations[AnnotationRotateHandled] != "r1" || !strings.HasPrefix(sec.Annotations[AnnotationRotateStatus], "prepared") {
		t.Fatalf("annotations after prepare: %v", sec.Annotations)
	}
	a.tick(api)                   // handled once: no second prepare
	if n := api.updates; n != 2 { // the operator's annotation and the prepare
		t.Errorf("%d writes after a repeated tick, want 2", n)
	}

	clk.Advance(10 * time.Minute)
	b.tick(api)
	a.tick(api)
	if a.CA().Root().Equal(oldRoot) || !a.CA().Root().Equal(b.CA().Root()) {
		t.Fatal("the rotation was not committed on both replicas")
	}
	if n := roots(a.CA()); n != 2 {
		t.Fatalf("%d roots during the overlap, want 2", n)
	}
	before := a.changes
	clk.Advance(2 * time.Hour)
	a.tick(api)
	if n := roots(a.CA()); n != 1 {
		t.Fatalf("%d roots after the overlap, want the new one only", n)
	}
	if a.changes == before {
		t.Error("the end of the overlap was not reported")
	}
}

func TestRotationAbortAndFailedRequestAreRecorded(t *testing.T) {
	api, clk := newSecretAPI(), &clock{now: t0}
	r := openReplica(t, api, clk, nil)
	api.annotate(t, DefaultStateSecret, AnnotationRotate, "abort-1")
	r.tick(api)
	if st := api.get(DefaultStateSecret).Annotations[AnnotationRotateStatus]; !strings.HasPrefix(st, "abort failed") {
		t.Errorf("abort without a rotation: status %q", st)
	}
	api.annotate(t, DefaultStateSecret, AnnotationRotate, "r2")
	r.tick(api)
	api.annotate(t, DefaultStateSecret, AnnotationRotate, "abort-2")
	r.tick(api)
	if st := api.get(DefaultStateSecret).Annotations[AnnotationRotateStatus]; !strings.HasPrefix(st, "aborted") {
		t.Errorf("status %q after abort", st)
	}
	if n := roots(r.CA()); n != 1 {
		t.Errorf("%d roots after abort, want 1", n)
	}
}
