package netnstest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"

	"golang.org/x/sys/unix"
)

// Capture records the IPv4 TCP traffic crossing one node's link to the bridge, as seen from
// the bridge's side, with a raw AF_PACKET socket. Payloads are reassembled per direction by
// sequence number, so a marker split across segments is still found.
type Capture struct {
	f    *os.File
	fd   int
	done chan struct{}

	mu       sync.Mutex
	frames   int
	segments map[Flow][]Segment
}

// Flow is one direction of a TCP connection.
type Flow struct{ Src, Dst netip.AddrPort }

// CaptureAt starts capturing on the bridge port of nd. Stop it before reading the results.
func (n *Network) CaptureAt(nd *Node) *Capture {
	n.t.Helper()
	c := &Capture{done: make(chan struct{}), segments: make(map[Flow][]Segment)}
	proto := int(htons(unix.ETH_P_ALL))
	err := n.bridge.Do(func() error {
		ifi, err := net.InterfaceByName(nd.port)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return err
		}
		c.fd = fd
		// A large buffer: a dropped frame could hide the very bytes a test looks for, so
		// Stop also fails on drops.
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 64<<20)
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return err
		}
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(fd)
			return err
		}
		c.f = os.NewFile(uintptr(fd), "packet-capture")
		return nil
	})
	if err != nil {
		n.t.Fatalf("capturing on %s: %v", nd.port, err)
	}
	n.t.Cleanup(func() { c.f.Close() })
	go c.read()
	return c
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (c *Capture) read() {
	defer close(c.done)
	buf := make([]byte, 256<<10) // GSO frames on veth can exceed the MTU
	for {
		n, err := c.f.Read(buf)
		if err != nil {
			return
		}
		c.record(buf[:n])
	}
}

func (c *Capture) record(frame []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frames++
	f, seg, ok := TCPSegmentOf(frame)
	if !ok || len(seg.Data) == 0 {
		return
	}
	seg.Data = bytes.Clone(seg.Data)
	c.segments[f] = append(c.segments[f], seg)
}

// TCPSegmentOf reads an Ethernet frame holding IPv4 TCP: its flow and its segment, whose Data
// (possibly empty) points into frame. ok is false for any other frame, or a truncated one.
func TCPSegmentOf(frame []byte) (f Flow, s Segment, ok bool) {
	const ethLen = 14
	if len(frame) < ethLen+20 || binary.BigEndian.Uint16(frame[12:14]) != 0x0800 {
		return Flow{}, Segment{}, false
	}
	ip := frame[ethLen:]
	ihl := int(ip[0]&0x0f) * 4
	if ip[0]>>4 != 4 || ihl < 20 || ip[9] != unix.IPPROTO_TCP || len(ip) < ihl+20 {
		return Flow{}, Segment{}, false
	}
	if total := int(binary.BigEndian.Uint16(ip[2:4])); total >= ihl+20 && total < len(ip) {
		ip = ip[:total] // drop Ethernet padding; 0 (GSO) keeps the frame's length
	}
	tcp := ip[ihl:]
	off := int(tcp[12]>>4) * 4
	if off < 20 || len(tcp) < off {
		return Flow{}, Segment{}, false
	}
	f = Flow{
		Src: netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[12:16])), binary.BigEndian.Uint16(tcp[0:2])),
		Dst: netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[16:20])), binary.BigEndian.Uint16(tcp[2:4])),
	}
	return f, Segment{Seq: binary.BigEndian.Uint32(tcp[4:8]), Data: tcp[off:]}, true
}

// Stop ends the capture. It fails if the kernel dropped frames, since a dropped frame could
// have held what the test looks for.
func (c *Capture) Stop() error {
	stats, err := unix.GetsockoptTpacketStats(c.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	c.f.Close()
	<-c.done
	if err != nil {
		return fmt.Errorf("reading capture statistics: %w", err)
	}
	if stats.Drops > 0 {
		return fmt.Errorf("the capture dropped %d frames", stats.Drops)
	}
	return nil
}

// Frames returns how many frames were seen.
func (c *Capture) Frames() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.frames
}

// Streams returns the reassembled payload of every flow (Reassemble).
func (c *Capture) Streams() map[Flow][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[Flow][]byte, len(c.segments))
	for f, segs := range c.segments {
		out[f] = Reassemble(segs)
	}
	return out
}

// Segment is one TCP segment's sequence number and payload.
type Segment struct {
	Seq  uint32
	Data []byte
}

// Reassemble joins the segments of one TCP flow into its payload: ordered by sequence number
// relative to the first seen (so wrap-around is handled), retransmissions dropped, gaps (a
// segment never seen) skipped over without marking.
func Reassemble(segs []Segment) []byte {
	if len(segs) == 0 {
		return nil
	}
	base := segs[0].Seq
	sorted := slices.Clone(segs)
	slices.SortStableFunc(sorted, func(a, b Segment) int {
		ra, rb := a.Seq-base, b.Seq-base
		switch {
		case ra < rb:
			return -1
		case ra > rb:
			return 1
		}
		return 0
	})
	var stream []byte
	for _, s := range sorted {
		rel := int(s.Seq - base)
		switch {
		case rel+len(s.Data) <= len(stream): // a retransmission
		case rel <= len(stream):
			stream = append(stream, s.Data[len(stream)-rel:]...)
		default:
			stream = append(stream, s.Data...)
		}
	}
	return stream
}

// Find returns the flows whose payload contains marker.
func (c *Capture) Find(marker []byte) []Flow {
	var found []Flow
	for f, s := range c.Streams() {
		if bytes.Contains(s, marker) {
			found = append(found, f)
		}
	}
	return found
}

var errNoFrames = errors.New("no frames captured")

// Expect returns an error unless some TCP payload was captured.
func (c *Capture) Expect() error {
	if len(c.Streams()) == 0 {
		return errNoFrames
	}
	return nil
}
