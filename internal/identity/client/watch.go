package client

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/outrider-sec/outrider/internal/identity/identitypb"
	"github.com/outrider-sec/outrider/internal/mesh/authz"
	"github.com/outrider-sec/outrider/internal/mesh/proxy"
)

// watchLoop keeps a Watch stream open and applies what it carries. A stream the service ends
// because the token expired is reopened at once with the kubelet's new token; any other
// failure is retried with backoff. The proxy keeps its last state meanwhile.
func (c *Client) watchLoop(ctx context.Context) {
	bo := backoff{min: c.cfg.MinBackoff, max: c.cfg.MaxBackoff}
	for ctx.Err() == nil {
		received, err := c.watchOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if received {
			bo.reset()
		}
		if status.Code(err) == codes.Unauthenticated && received {
			c.cfg.Log.Info("watch stream ended; reconnecting", "reason", status.Convert(err).Message())
			continue
		}
		wait := bo.next()
		c.cfg.Log.Warn("watch stream failed; keeping the current policy, bundle and endpoints", "err", err.Error(), "retryIn", wait.String())
		if !c.sleep(ctx, wait) {
			return
		}
	}
}

// watchOnce runs one stream until it fails; received reports whether it delivered anything.
func (c *Client) watchOnce(ctx context.Context) (received bool, err error) {
	token, err := readToken(c.cfg.TokenFile)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.api.Watch(ctx, &pb.WatchRequest{Token: token})
	if err != nil {
		return false, err
	}
	for {
		msg, err := stream.Recv()
		if err != nil {
			return received, err
		}
		received = true
		c.apply(msg)
	}
}

// apply installs each part of msg that is present. A part that does not decode or that the
// proxy refuses is logged and skipped; the proxy keeps the previous value of that part.
func (c *Client) apply(msg *pb.WatchResponse) {
	if b := msg.GetTrustBundle(); b != nil {
		bundle, err := bundleFromProto(b)
		if err == nil {
			err = c.installBundle(bundle)
		}
		if err != nil {
			c.cfg.Log.Error("trust bundle update refused", "err", err.Error())
		}
	}
	if p := msg.GetPolicy(); p != nil {
		pol, err := authz.Parse(p.GetJson())
		if err == nil {
			err = c.cfg.Sink.SetPolicy(pol)
		}
		if err != nil {
			c.cfg.Log.Error("policy update refused", "err", err.Error())
		} else {
			c.hasPolicy.Store(true)
		}
	}
	if e := msg.GetEndpoints(); e != nil {
		eps, err := endpointsFromProto(e)
		if err != nil {
			c.cfg.Log.Error("endpoints update refused", "err", err.Error())
		} else {
			c.cfg.Sink.SetEndpoints(eps)
		}
	}
}

func endpointsFromProto(set *pb.EndpointSet) (proxy.Endpoints, error) {
	out := make(proxy.Endpoints, len(set.GetEndpoints()))
	for _, e := range set.GetEndpoints() {
		ip, err := netip.ParseAddr(e.GetIp())
		if err != nil {
			return nil, fmt.Errorf("endpoint %q: %w", e.GetIp(), err)
		}
		id, err := spiffeid.FromString(e.GetSpiffeId())
		if err != nil {
			return nil, fmt.Errorf("endpoint %s: %w", ip, err)
		}
		out[ip.Unmap()] = id
	}
	return out, nil
}
