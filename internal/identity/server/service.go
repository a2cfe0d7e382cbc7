package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
	corev1 "k8s.io/api/core/v1"

	"github.com/outrider-sec/outrider/internal/identity/auth"
	"github.com/outrider-sec/outrider/internal/identity/ca"
	pb "github.com/outrider-sec/outrider/internal/identity/identitypb"
	"github.com/outrider-sec/outrider/internal/identity/push"
)

// Authenticator authenticates a proxy by its pod's token (auth.Authenticator).
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*auth.Workload, error)
}

// ProvenanceSource returns the signing authorities that the bound pod's images were verified
// against at admission, or nil. It never refuses: missing or bad provenance means none.
type ProvenanceSource interface {
	Authorities(ctx context.Context, pod *corev1.Pod) []string
}

// CASource returns the CA to issue with now (castore.Store).
type CASource interface {
	CA() *ca.CA
}

// Service implements the Identity gRPC service.
type Service struct {
	pb.UnimplementedIdentityServer
	auth    Authenticator
	cas     CASource
	prov    ProvenanceSource
	hub     *push.Hub
	log     *slog.Logger
	metrics *metrics
}

// ServiceConfig gathers a Service's collaborators. Every field is required except Provenance
// (none: no certificate carries provenance) and Log (default: discard).
type ServiceConfig struct {
	Auth       Authenticator
	CA         CASource
	Provenance ProvenanceSource
	Hub        *push.Hub
	Log        *slog.Logger
	// Registry receives the service's metrics. Default: not registered.
	Registry prometheus.Registerer
}

// NewService returns the service.
func NewService(cfg ServiceConfig) (*Service, error) {
	if cfg.Auth == nil || cfg.CA == nil || cfg.Hub == nil {
		return nil, errors.New("identity service: Auth, CA and Hub are required")
	}
	if cfg.Provenance == nil {
		cfg.Provenance = noProvenance{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{auth: cfg.Auth, cas: cfg.CA, prov: cfg.Provenance, hub: cfg.Hub, log: cfg.Log, metrics: newMetrics(cfg.Registry)}, nil
}

type noProvenance struct{}

func (noProvenance) Authorities(context.Context, *corev1.Pod) []string { return nil }

// IssueCertificate authenticates the token, then signs the CSR's key for the token's workload.
func (s *Service) IssueCertificate(ctx context.Context, req *pb.IssueCertificateRequest) (*pb.IssueCertificateResponse, error) {
	var w *auth.Workload
	resp, err := s.issue(ctx, req, &w)
	if err != nil {
		code := codeOf(err)
		s.metrics.refused.WithLabelValues(code.String()).Inc()
		s.log.Warn("certificate refused", append(requestAttrs(ctx, w), "code", code.String(), "reason", err.Error())...)
		return nil, status.Error(code, err.Error())
	}
	s.metrics.issued.Inc()
	s.log.Info("certificate issued", append(requestAttrs(ctx, w), "id", resp.SpiffeId, "expiresAt", resp.ExpiresAt.AsTime(), "provenance", resp.Provenance)...)
	return resp, nil
}

func (s *Service) issue(ctx context.Context, req *pb.IssueCertificateRequest, wp **auth.Workload) (*pb.IssueCertificateResponse, error) {
	if len(req.GetCsr()) == 0 {
		return nil, fmt.Errorf("%w: no CSR", errInvalidArgument)
	}
	var ttl time.Duration
	if d := req.GetTtl(); d != nil {
		if err := d.CheckValid(); err != nil || d.AsDuration() < 0 {
			return nil, fmt.Errorf("%w: ttl: %v", errInvalidArgument, d)
		}
		ttl = d.AsDuration()
	}
	w, err := s.auth.Authenticate(ctx, req.GetToken())
	if err != nil {
		return nil, err
	}
	*wp = w
	c := s.cas.CA()
	svid, err := c.Issue(ca.IssueRequest{
		CSR: req.GetCsr(), Namespace: w.Namespace, ServiceAccount: w.ServiceAccount, TTL: ttl,
		Provenance: s.prov.Authorities(ctx, w.Pod),
	})
	if err != nil {
		return nil, err
	}
	chain := make([][]byte, len(svid.Certificates))
	for i, cert := range svid.Certificates {
		chain[i] = cert.Raw
	}
	return &pb.IssueCertificateResponse{
		CertificateChain: chain,
		TrustBundle:      bundleProto(c.Bundle()),
		ExpiresAt:        timestamppb.New(svid.Leaf().NotAfter),
		SpiffeId:         svid.ID.String(),
		Provenance:       svid.Provenance,
	}, nil
}

// Watch authenticates the token, then streams the workload's state until the token expires,
// the pod goes, the client leaves or the service stops.
func (s *Service) Watch(req *pb.WatchRequest, stream pb.Identity_WatchServer) error {
	ctx := stream.Context()
	w, err := s.auth.Authenticate(ctx, req.GetToken())
	if err != nil {
		code := codeOf(err)
		s.metrics.refused.WithLabelValues(code.String()).Inc()
		s.log.Warn("watch refused", append(requestAttrs(ctx, w), "code", code.String(), "reason", err.Error())...)
		return status.Error(code, err.Error())
	}
	if !w.TokenExpiry.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, w.TokenExpiry)
		defer cancel()
	}
	sub := s.hub.Subscribe(ctx, w.Pod)
	defer sub.Close()
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()
	s.log.Info("watch started", requestAttrs(ctx, w)...)
	err = s.stream(ctx, sub, stream)
	s.log.Info("watch ended", append(requestAttrs(ctx, w), "reason", err.Error())...)
	return err
}

func (s *Service) stream(ctx context.Context, sub *push.Subscription, stream pb.Identity_WatchServer) error {
	for {
		u, err := sub.Next(ctx)
		switch {
		case errors.Is(err, context.DeadlineExceeded) && stream.Context().Err() == nil:
			return status.Error(codes.Unauthenticated, "token expired: reconnect with a fresh token")
		case errors.Is(err, push.ErrPodGone):
			return statusError(err)
		case err != nil && stream.Context().Err() != nil:
			return status.FromContextError(stream.Context().Err()).Err()
		case err != nil:
			return status.Error(codes.Unavailable, "identity service stopping: reconnect")
		}
		start := time.Now()
		if err := stream.Send(updateProto(u)); err != nil {
			return err
		}
		s.metrics.pushes.Inc()
		s.metrics.sendSeconds.Observe(time.Since(start).Seconds())
	}
}

func updateProto(u push.Update) *pb.WatchResponse {
	out := &pb.WatchResponse{}
	if u.Bundle != nil {
		out.TrustBundle = bundleProto(u.Bundle)
	}
	if u.Policy != nil {
		out.Policy = &pb.Policy{Json: u.Policy}
	}
	if u.HasEndpoints {
		eps := make([]*pb.Endpoint, len(u.Endpoints))
		for i, e := range u.Endpoints {
			eps[i] = &pb.Endpoint{Ip: e.IP.String(), SpiffeId: e.ID.String()}
		}
		out.Endpoints = &pb.EndpointSet{Endpoints: eps}
	}
	return out
}

func bundleProto(b *x509bundle.Bundle) *pb.TrustBundle {
	roots := b.X509Authorities()
	der := make([][]byte, len(roots))
	for i, r := range roots {
		der[i] = r.Raw
	}
	return &pb.TrustBundle{TrustDomain: b.TrustDomain().Name(), Roots: der}
}

// requestAttrs names the caller in logs: its address and, once authenticated, its pod.
func requestAttrs(ctx context.Context, w *auth.Workload) []any {
	attrs := []any{}
	if p, ok := peer.FromContext(ctx); ok {
		attrs = append(attrs, "remote", p.Addr.String())
	}
	if w != nil {
		attrs = append(attrs, "namespace", w.Namespace, "serviceAccount", w.ServiceAccount, "pod", w.PodName)
	}
	return attrs
}
