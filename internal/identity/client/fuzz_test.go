package client

import (
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/protobuf/proto"

	pb "github.com/outrider-sec/outrider/internal/identity/identitypb"
)

// FuzzApply feeds arbitrary Watch messages to the client: nothing may panic, and whatever it
// installs must be what the proxy accepts (the sink here accepts anything, so the checks are
// the client's own).
func FuzzApply(f *testing.F) {
	seeds := []*pb.WatchResponse{
		{Policy: &pb.Policy{Json: []byte(`{"defaultDeny":true}`)}},
		{Policy: &pb.Policy{Json: []byte(`{"rules":[{"name":"a","principals":["spiffe://cluster.local/ns/a/*"]}]}`)}},
		{Endpoints: &pb.EndpointSet{Endpoints: []*pb.Endpoint{{Ip: "10.88.0.5", SpiffeId: "spiffe://cluster.local/ns/a/sa/b"}, {Ip: "::ffff:10.0.0.1", SpiffeId: "spiffe://x/y"}}}},
		{TrustBundle: &pb.TrustBundle{TrustDomain: "cluster.local", Roots: [][]byte{{0x30, 0x03, 0x02, 0x01, 0x00}}}},
		{TrustBundle: &pb.TrustBundle{TrustDomain: "other.domain"}},
	}
	for _, s := range seeds {
		b, _ := proto.Marshal(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var msg pb.WatchResponse
		if proto.Unmarshal(data, &msg) != nil {
			return
		}
		c, err := New(Config{Address: "127.0.0.1:1", ServerID: spiffeid.RequireFromString("spiffe://cluster.local/ns/o/sa/i"), Sink: &sink{}, BundleFile: "/nonexistent"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.conn.Close()
		c.apply(&msg)
	})
}
