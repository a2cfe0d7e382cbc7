package push

import (
	"context"
	"errors"
	"sync"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	corev1 "k8s.io/api/core/v1"

	"github.com/outrider-sec/outrider/internal/mesh/accesspolicy"
)

// ErrPodGone ends a subscription whose pod was deleted or replaced.
var ErrPodGone = errors.New("the subscribed pod no longer exists")

// Update is what changed for one subscriber since its last Next. Nil and false fields are
// unchanged. The first Update of a subscription has every field.
type Update struct {
	Bundle *x509bundle.Bundle
	// Policy is the workload's authz.Policy in its JSON form.
	Policy       []byte
	Endpoints    []Endpoint
	HasEndpoints bool
}

func (u *Update) empty() bool { return u.Bundle == nil && u.Policy == nil && !u.HasEndpoints }

// merge lays newer onto u: a newer value replaces a pending one.
func (u *Update) merge(newer Update) {
	if newer.Bundle != nil {
		u.Bundle = newer.Bundle
	}
	if newer.Policy != nil {
		u.Policy = newer.Policy
	}
	if newer.HasEndpoints {
		u.Endpoints, u.HasEndpoints = newer.Endpoints, true
	}
}

// Subscription is one proxy's stream of updates. Read it with Next; end it with Close.
type Subscription struct {
	key accesspolicy.WorkloadKey
	pod *corev1.Pod // as authenticated; used until the pod cache has it

	// Written by the hub's compute loop only (under Hub.computeMu).
	sentBundle    [32]byte
	sentPolicy    []byte
	sentEndpoints uint64 // the endpoints generation last queued
	cached        bool   // the pod cache has had this pod

	mu      sync.Mutex
	pending Update
	notify  chan struct{}
	done    chan struct{}
	reason  error
	hub     *Hub
}

// Key names the subscribed workload.
func (s *Subscription) Key() accesspolicy.WorkloadKey { return s.key }

// Next waits for the next update. It returns the subscription's end reason once it is closed,
// or ctx's error.
func (s *Subscription) Next(ctx context.Context) (Update, error) {
	for {
		s.mu.Lock()
		if s.reason != nil {
			err := s.reason
			s.mu.Unlock()
			return Update{}, err
		}
		if !s.pending.empty() {
			u := s.pending
			s.pending = Update{}
			s.mu.Unlock()
			return u, nil
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return Update{}, ctx.Err()
		case <-s.notify:
		case <-s.done:
		}
	}
}

// Close ends the subscription and removes it from its hub.
func (s *Subscription) Close() {
	s.end(context.Canceled)
	s.hub.remove(s)
}

func (s *Subscription) queue(u Update) {
	if u.empty() {
		return
	}
	s.mu.Lock()
	s.pending.merge(u)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (s *Subscription) end(reason error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if reason == nil {
		reason = context.Canceled
	}
	if s.reason == nil {
		s.reason = reason
		close(s.done)
	}
}
