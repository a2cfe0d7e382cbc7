package controller

import (
	"context"
	"fmt"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/outrider-sec/outrider/internal/admission"
	"github.com/outrider-sec/outrider/internal/mesh/inject"
)

// meshConfig builds the injector's configuration: pods reach the identity service at its
// Service's cluster IP (the mesh does not depend on cluster DNS), read once at start.
func meshConfig(ctx context.Context, opts *Options, live client.Reader) (*inject.Config, admission.OptOut, error) {
	m := opts.Mesh
	if m == nil {
		return nil, admission.OptOut{}, nil
	}
	var svc corev1.Service
	if err := live.Get(ctx, client.ObjectKey{Namespace: opts.Namespace, Name: m.IdentityService}, &svc); err != nil {
		return nil, admission.OptOut{}, fmt.Errorf("mesh: reading the identity Service %s/%s: %w", opts.Namespace, m.IdentityService, err)
	}
	if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		return nil, admission.OptOut{}, fmt.Errorf("mesh: the identity Service %s/%s has no cluster IP", opts.Namespace, m.IdentityService)
	}
	cfg := &inject.Config{
		Image:            m.Image,
		IdentityAddress:  net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(m.IdentityPort)),
		IdentityID:       m.IdentityID,
		BundleConfigMap:  m.BundleConfigMap,
		ProxyResources:   inject.DefaultResources("10m", "32Mi", "128Mi"),
		CaptureResources: inject.DefaultResources("10m", "16Mi", "64Mi"),
		LogLevel:         m.LogLevel,
	}
	if err := cfg.Validate(); err != nil {
		return nil, admission.OptOut{}, fmt.Errorf("mesh: %w", err)
	}
	return cfg, admission.OptOut{Users: m.OptOutUsers, Groups: m.OptOutGroups}, nil
}
