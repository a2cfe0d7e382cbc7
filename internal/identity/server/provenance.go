package server

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"

	"github.com/outrider-sec/outrider/internal/identity/provenance"
)

// keyedProvenance verifies the controller-signed provenance annotation of a pod with the
// public keys of the provenance-keys ConfigMap (SetKeys). Without keys nothing is verified.
type keyedProvenance struct {
	keys atomic.Pointer[provenance.Keys]
	log  *slog.Logger
}

// SetKeys replaces the trusted keys.
func (p *keyedProvenance) SetKeys(k provenance.Keys) { p.keys.Store(&k) }

// Authorities returns the verified authorities, or nil with the reason logged. Never an error:
// a workload without provenance still gets its identity.
func (p *keyedProvenance) Authorities(_ context.Context, pod *corev1.Pod) []string {
	keys := p.keys.Load()
	if keys == nil || len(*keys) == 0 {
		return nil
	}
	auth, err := provenance.Verify(pod, *keys)
	switch {
	case errors.Is(err, provenance.ErrNoAnnotation):
		return nil
	case err != nil:
		p.log.Warn("provenance not granted", "namespace", pod.Namespace, "pod", pod.Name, "reason", err.Error())
		return nil
	}
	return auth
}
