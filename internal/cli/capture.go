package cli

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/outrider-sec/outrider/internal/cli/command"
	"github.com/outrider-sec/outrider/internal/mesh/capture"
)

// captureOptions are the flags of `outrider capture`.
type captureOptions struct {
	inboundPort, outboundPort       uint16
	proxyPorts                      []string
	proxyUID, proxyGID              int64
	proxyMark                       string
	excludeInbound, excludeOutbound []string
	excludeCIDRs                    []string
	backend, netnsPath              string
	dryRun, verifyOnly              bool
	logFormat, logLevel             string

	cfg  capture.Config
	opts capture.Options
}

func newCaptureCommand(s command.Streams) *cobra.Command {
	o := &captureOptions{}
	cmd := &cobra.Command{
		Use:   "capture",
		Short: "Program the pod's iptables so its TCP goes through the mesh proxy (the injected init container)",
		Long: `Program the iptables of the pod's network namespace for the mesh, then read the rules back
and check them. The injector runs this as the meshed pod's first init container, as root with
CAP_NET_ADMIN and CAP_NET_RAW only; if anything fails it exits non-zero and the pod does not start.

Inbound TCP is redirected to the proxy's inbound port and the application's outbound TCP to its
outbound port, except the excluded ports and CIDRs, traffic that stays in the pod, and the
proxy's own packets: those carry the proxy's UID, GID and mark, all three. The proxy's ports
are refused to every other process in the pod, on loopback and on the pod's addresses. IPv6
gets the same rules whenever the kernel has it. The filter and nat tables are replaced whole
(iptables-restore), so running it again gives the same rules; the backend (nft or legacy) is
the one already in use in the namespace, else nft. See docs/mesh-capture.md.

Exit codes: 0 the rules are in place, 1 they could not be installed or are not the expected
ones, 2 the command was called wrongly.`,
		Example: `  outrider capture
  outrider capture --exclude-inbound-ports 22 --exclude-outbound-cidrs 10.96.0.1/32
  outrider capture --dry-run
  outrider capture --verify-only --netns /proc/4242/ns/net`,
		Args:    cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error { return o.validate(s) },
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCapture(cmd.Context(), s, o)
		},
	}
	f := cmd.Flags()
	f.Uint16Var(&o.inboundPort, "inbound-port", capture.DefaultInboundPort, "the proxy's inbound port: inbound TCP is redirected to it")
	f.Uint16Var(&o.outboundPort, "outbound-port", capture.DefaultOutboundPort, "the proxy's outbound port (on loopback): the application's outbound TCP is redirected to it")
	f.StringSliceVar(&o.proxyPorts, "proxy-ports", portStrings(capture.DefaultProxyPorts), "the proxy's other TCP ports (metrics): never redirected, closed to the rest of the pod (empty: none)")
	f.Int64Var(&o.proxyUID, "proxy-uid", capture.DefaultProxyUID, "the proxy's UID, part of its exemption (-1 leaves it out)")
	f.Int64Var(&o.proxyGID, "proxy-gid", capture.DefaultProxyGID, "the proxy's GID, part of its exemption (-1 leaves it out)")
	f.StringVar(&o.proxyMark, "proxy-mark", fmt.Sprintf("%#x", capture.DefaultProxyMark), "the mark the proxy puts on its sockets, part of its exemption (-1 leaves it out)")
	f.StringSliceVar(&o.excludeInbound, "exclude-inbound-ports", nil, "application ports peers reach directly, without the proxy (comma-separated)")
	f.StringSliceVar(&o.excludeOutbound, "exclude-outbound-ports", nil, "destination ports the application reaches directly (comma-separated)")
	f.StringSliceVar(&o.excludeCIDRs, "exclude-outbound-cidrs", nil, "destinations (CIDRs or addresses, IPv4 or IPv6) the application reaches directly (comma-separated)")
	f.StringVar(&o.backend, "backend", "auto", "iptables backend: nft, legacy, or auto (the one in use in the namespace, else nft)")
	f.StringVar(&o.netnsPath, "netns", "", "network namespace to program (/proc/<pid>/ns/net); default: this process's")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the iptables-restore payloads and change nothing")
	f.BoolVar(&o.verifyOnly, "verify-only", false, "only check that the rules in place are the expected ones")
	f.StringVar(&o.logFormat, "log-format", "json", "log format: json or text")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}

func (o *captureOptions) validate(s command.Streams) error {
	if o.dryRun && o.verifyOnly {
		return command.UsageError("--dry-run and --verify-only exclude each other")
	}
	if o.inboundPort == 0 || o.outboundPort == 0 {
		return command.UsageError("--inbound-port and --outbound-port must be ports, not 0")
	}
	mark, err := strconv.ParseInt(o.proxyMark, 0, 64)
	if err != nil {
		return command.UsageError("--proxy-mark: want a number like 0x539 or -1, not %q", o.proxyMark)
	}
	if o.proxyUID == 0 || o.proxyGID == 0 || mark == 0 {
		return command.UsageError("--proxy-uid, --proxy-gid and --proxy-mark cannot be 0: root (or no mark) is not the proxy; -1 leaves one out")
	}
	o.cfg = capture.Config{InboundPort: o.inboundPort, OutboundPort: o.outboundPort,
		ProxyUID: o.proxyUID, ProxyGID: o.proxyGID, ProxyMark: mark}
	if o.cfg.ProxyPorts, err = parsePorts("--proxy-ports", o.proxyPorts); err != nil {
		return err
	}
	if o.cfg.ExcludeInboundPorts, err = parsePorts("--exclude-inbound-ports", o.excludeInbound); err != nil {
		return err
	}
	if o.cfg.ExcludeOutboundPorts, err = parsePorts("--exclude-outbound-ports", o.excludeOutbound); err != nil {
		return err
	}
	if o.cfg.ExcludeOutboundCIDRs, err = parseCIDRs(o.excludeCIDRs); err != nil {
		return err
	}
	if _, err := capture.Rules(o.cfg, capture.IPv4); err != nil {
		return command.UsageError("%v", err)
	}
	backend, err := capture.ParseBackend(o.backend)
	if err != nil {
		return command.UsageError("--backend: %v", err)
	}
	log, err := command.NewLogger(s, o.logFormat, o.logLevel)
	if err != nil {
		return err
	}
	o.opts = capture.Options{NetNS: o.netnsPath, Backend: backend, Log: log}
	return nil
}

func runCapture(ctx context.Context, s command.Streams, o *captureOptions) error {
	if o.dryRun {
		return printCapturePayloads(s, o.cfg)
	}
	var (
		res  capture.Result
		err  error
		verb = "installed and verified"
	)
	if o.verifyOnly {
		verb = "verified"
		res, err = capture.Verify(ctx, o.cfg, o.opts)
	} else {
		res, err = capture.Apply(ctx, o.cfg, o.opts)
	}
	if err != nil {
		return &command.ExitError{Code: 1, Err: fmt.Errorf("capture: %w", err)}
	}
	fams := make([]string, len(res.Families))
	for i, f := range res.Families {
		fams[i] = f.String()
	}
	_, err = fmt.Fprintf(s.Out, "capture rules %s: %d rules, %s, %s backend\n", verb, res.Rules, strings.Join(fams, " and "), res.Backend)
	return err
}

// printCapturePayloads writes the payload of each family, as iptables-restore reads it.
func printCapturePayloads(s command.Streams, cfg capture.Config) error {
	for _, f := range []capture.Family{capture.IPv4, capture.IPv6} {
		tables, err := capture.Rules(cfg, f)
		if err != nil {
			return command.UsageError("%v", err)
		}
		note := ""
		if f == capture.IPv6 {
			note = ", installed whenever the kernel has IPv6"
		}
		cmd := map[capture.Family]string{capture.IPv4: "iptables-restore", capture.IPv6: "ip6tables-restore"}[f]
		if _, err := fmt.Fprintf(s.Out, "# %s payload (%s%s)\n%s", cmd, f, note, capture.Render(tables)); err != nil {
			return err
		}
	}
	return nil
}

// parsePorts reads a port list. Given empty, it means none (not the default): the result is
// empty, not nil.
func parsePorts(flag string, in []string) ([]uint16, error) {
	out := []uint16{}
	for _, v := range in {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil || n == 0 {
			return nil, command.UsageError("%s: %q is not a port", flag, v)
		}
		out = append(out, uint16(n))
	}
	return out, nil
}

// parseCIDRs reads prefixes; a bare address is a prefix of one address.
func parseCIDRs(in []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, c := range in {
		if c = strings.TrimSpace(c); c == "" {
			continue
		}
		pfx, err := netip.ParsePrefix(c)
		if err != nil {
			a, aerr := netip.ParseAddr(c)
			if aerr != nil {
				return nil, command.UsageError("--exclude-outbound-cidrs: %q is neither a CIDR nor an address", c)
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, pfx)
	}
	return out, nil
}

func portStrings(ports []uint16) []string {
	out := make([]string, len(ports))
	for i, p := range ports {
		out[i] = strconv.Itoa(int(p))
	}
	return out
}
