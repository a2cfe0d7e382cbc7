package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/outrider-sec/outrider/internal/identity/auth"
	"github.com/outrider-sec/outrider/internal/identity/ca"
	"github.com/outrider-sec/outrider/internal/identity/castore"
	pb "github.com/outrider-sec/outrider/internal/identity/identitypb"
	"github.com/outrider-sec/outrider/internal/identity/push"
)

// Clients are the API clients the service uses.
type Clients struct {
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
}

// Server is the identity service with everything it runs: the CA store and its timers, the
// informers, the push hub, the bundle publisher, the serving certificate and the gRPC server.
type Server struct {
	opts      Options
	log       *slog.Logger
	registry  *prometheus.Registry
	store     *castore.Store
	informers *push.Informers
	publisher *push.Publisher
	hub       *push.Hub
	prov      *keyedProvenance
	keys      *keyWatcher
	serving   *servingCert
	grpc      *grpc.Server

	caChanged   chan struct{} // to the hub
	certChanged chan struct{} // to the serving certificate
}

// New opens (or creates) the CA and sets everything up; Serve runs it.
func New(ctx context.Context, c Clients, opts Options, log *slog.Logger) (*Server, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, log: log, registry: prometheus.NewRegistry(),
		caChanged: make(chan struct{}, 1), certChanged: make(chan struct{}, 1)}
	s.store, err = castore.Open(ctx, castore.Config{
		Client: c.Kube, Namespace: opts.Namespace, StateSecret: opts.StateSecret, RootSecret: opts.RootSecret,
		CA: opts.caConfig(time.Now), Log: log.With("component", "ca"),
		OnChange: func(*ca.CA) { poke(s.caChanged); poke(s.certChanged) },
	})
	if err != nil {
		return nil, err
	}
	if s.informers, err = push.NewInformers(c.Kube, c.Dynamic, c.Kube.Discovery(), log, func() { poke(s.caChanged) }); err != nil {
		return nil, err
	}
	if s.publisher, err = push.NewPublisher(c.Kube, opts.BundleConfigMap, log.With("component", "bundle"), func() { poke(s.caChanged) }); err != nil {
		return nil, err
	}
	s.hub, err = push.NewHub(push.Config{
		TrustDomain: s.store.CA().TrustDomain(), Source: s.informers,
		Bundle: func() *bundle { return s.store.CA().Bundle() }, Publish: s.publisher.Publish, Log: log.With("component", "push"),
	})
	if err != nil {
		return nil, err
	}
	authn, err := auth.New(auth.Config{Client: c.Kube, Audience: opts.Audience, Namespaces: cachedNamespaces{s.informers, c.Kube}})
	if err != nil {
		return nil, err
	}
	s.prov = &keyedProvenance{log: log.With("component", "provenance")}
	if opts.ProvenanceKeys != "" {
		if s.keys, err = newKeyWatcher(c.Kube, opts.Namespace, opts.ProvenanceKeys, s.prov, log); err != nil {
			return nil, err
		}
	}
	s.serving = &servingCert{cas: s.store, namespace: opts.Namespace, serviceAccount: opts.ServiceAccount, log: log, now: time.Now}
	if err := s.serving.issue(); err != nil {
		return nil, err
	}
	svc, err := NewService(ServiceConfig{Auth: authn, CA: s.store, Provenance: s.prov, Hub: s.hub, Log: log, Registry: s.registry})
	if err != nil {
		return nil, err
	}
	s.grpc = newGRPCServer(s.serving, log)
	pb.RegisterIdentityServer(s.grpc, svc)
	return s, nil
}

// newGRPCServer configures transport limits and keepalives. Requests are small (a CSR and a
// token), so a 64 KiB cap bounds what an unauthenticated client can make us buffer. Server
// pings find dead proxies on idle Watch streams within a minute.
func newGRPCServer(serving *servingCert, log *slog.Logger) *grpc.Server {
	return grpc.NewServer(
		grpc.Creds(credentials.NewTLS(serverTLS(serving))),
		grpc.MaxRecvMsgSize(64<<10),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 20 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.ChainUnaryInterceptor(recoverUnary(log)),
		grpc.ChainStreamInterceptor(recoverStream(log)),
	)
}

// Serve starts the caches and timers, then serves gRPC on lis until ctx ends.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := s.informers.Start(ctx); err != nil {
		return err
	}
	defer s.informers.Shutdown()
	if !s.publisher.Start(ctx) {
		return fmt.Errorf("waiting for the bundle ConfigMap cache: %w", ctx.Err())
	}
	defer s.publisher.Shutdown()
	if s.keys != nil {
		if err := s.keys.start(ctx); err != nil {
			return err
		}
		defer s.keys.shutdown()
	}
	go func() {
		if err := s.store.Run(ctx); err != nil {
			s.log.Error("CA lifecycle stopped", "err", err.Error())
		}
	}()
	go s.publisher.Run(ctx)
	go s.hub.Run(ctx)
	go forward(ctx, s.caChanged, s.hub.Changed)
	go s.serving.run(ctx, s.certChanged)

	served := make(chan error, 1)
	go func() { served <- s.grpc.Serve(lis) }()
	s.log.Info("identity service started", "address", lis.Addr().String(), "trustDomain", s.store.CA().TrustDomain().Name(),
		"serverID", "spiffe://"+s.store.CA().TrustDomain().Name()+"/ns/"+s.opts.Namespace+"/sa/"+s.opts.ServiceAccount)
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	s.stop()
	return nil
}

// stop ends the Watch streams (the hub stops with ctx), then waits briefly for unary calls.
func (s *Server) stop() {
	done := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.grpc.Stop()
	}
}

// Ready reports whether the service can issue: it has a serving certificate and a CA that is
// not expired.
func (s *Server) Ready() error {
	if s.serving.cert.Load() == nil {
		return errors.New("no serving certificate")
	}
	if time.Now().After(s.store.CA().Intermediate().NotAfter) {
		return errors.New("the intermediate has expired")
	}
	return nil
}

// Registry holds the service's metrics.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// CA returns the CA in use (for tests and diagnostics).
func (s *Server) CA() *ca.CA { return s.store.CA() }

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func forward(ctx context.Context, ch <-chan struct{}, f func()) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
			f()
		}
	}
}

// recoverUnary and recoverStream turn a panic in a handler into an Internal error and a log
// line: one bad request must not take the mesh's CA down.
func recoverUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic in handler", "method", info.FullMethod, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = status.Error(codes.Internal, "internal error")
			}
		}()
		return h(ctx, req)
	}
}

func recoverStream(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic in handler", "method", info.FullMethod, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = status.Error(codes.Internal, "internal error")
			}
		}()
		return h(srv, ss)
	}
}
