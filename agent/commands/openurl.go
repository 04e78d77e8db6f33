package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

// OpenURLMax is the longest link open_url accepts, in characters.
const OpenURLMax = 2048

// OpenURLPrivate is the name the owner switches on (`tether allow
// open_url_private`) to let open_url reach loopback, private, link-local and
// other local addresses. Off by default: a paired browser must not be able
// to point the desktop's own browser at its routers, printers and local
// development servers.
const OpenURLPrivate = "open_url_private"

// lookupHost resolves a host name to its addresses. Tests replace it.
var lookupHost = func(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

func openURLCommand(c Controller, unavailable func() string) Command {
	return Command{
		Spec: protocol.CommandSpec{
			Name:        protocol.CommandOpenURL,
			Title:       "Open link",
			Description: "Opens a web link in the computer’s browser.",
			Args: []protocol.ArgSpec{
				{Name: "url", Type: protocol.ArgURL, Required: true, MaxLen: OpenURLMax, Schemes: []string{"http", "https"}},
			},
		},
		Rate:        1,
		Burst:       2,
		Timeout:     10 * time.Second,
		Unavailable: unavailable,
		Run: func(ctx context.Context, args map[string]any) (json.RawMessage, error) {
			raw, err := textArg(args, "url", OpenURLMax)
			if err != nil {
				return nil, err
			}
			// Checked again after the spec: only an absolute http(s) URL
			// with a host ever reaches the opener.
			u, err := url.Parse(raw)
			if err != nil || !u.IsAbs() || u.Hostname() == "" || strings.HasPrefix(raw, "-") {
				return nil, protocol.Errorf(protocol.CodeInvalidArgs, "open_url: argument \"url\" must be an absolute http or https URL")
			}
			if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
				return nil, protocol.Errorf(protocol.CodeInvalidArgs, "open_url: argument \"url\" must be an absolute http or https URL")
			}
			if !Allowed(ctx, OpenURLPrivate) {
				if err := checkPublicHost(ctx, u.Hostname()); err != nil {
					return nil, err
				}
			}
			return nil, c.OpenURL(ctx, raw)
		},
	}
}

// checkPublicHost refuses (not_allowed) a host that is, or resolves to, an
// address on this machine or its local networks. It reads the host as a
// browser does: IPv4 in the short, octal and hexadecimal forms browsers
// accept ("127.1", "0x7f.0.0.1", "2130706433"), IPv6 literals, and names,
// which are resolved: one local address among the answers is enough to
// refuse. A name that cannot be resolved is refused too. The browser resolves
// the name again when it opens it, so a DNS server that changes its answer in
// between is not stopped here (the owner's browser and network are the last
// line there).
func checkPublicHost(ctx context.Context, host string) error {
	refuse := func(why string) error {
		return protocol.Errorf(protocol.CodeNotAllowed,
			"open_url: %s; links to this computer and its local network are refused unless the owner runs `tether allow %s`",
			why, OpenURLPrivate)
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return refuse(fmt.Sprintf("%q is this computer", host))
	}
	addrs, err := hostAddrs(ctx, host)
	if err != nil {
		return refuse(err.Error())
	}
	for _, a := range addrs {
		if why := localAddr(a); why != "" {
			return refuse(fmt.Sprintf("%q is %s (%s)", host, why, a))
		}
	}
	return nil
}

// hostAddrs returns the addresses a browser would connect to for host.
func hostAddrs(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil { // an IPv6 literal (brackets already gone), or dotted IPv4
		return []netip.Addr{a}, nil
	}
	if a, isNumber, err := browserIPv4(host); isNumber {
		if err != nil {
			return nil, fmt.Errorf("%q is not a valid IPv4 address", host)
		}
		return []netip.Addr{a}, nil
	}
	addrs, err := lookupHost(ctx, host)
	if err != nil || len(addrs) == 0 {
		return nil, fmt.Errorf("cannot resolve %q to check where it leads", host)
	}
	return addrs, nil
}

// browserIPv4 parses host with the WHATWG URL standard's IPv4 parser, the
// one browsers use. isNumber reports whether the host's last label is a
// number, in which case a browser reads the host as an IPv4 address (and
// refuses it when err is set) rather than as a name.
func browserIPv4(host string) (addr netip.Addr, isNumber bool, err error) {
	parts := strings.Split(host, ".")
	if len(parts) > 1 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	last := parts[len(parts)-1]
	if _, err := parseIPv4Part(last); err != nil && !isDecimal(last) {
		return netip.Addr{}, false, nil // ends in a name: not an IPv4 address
	}
	if len(parts) > 4 {
		return netip.Addr{}, true, fmt.Errorf("more than four parts")
	}
	var n uint64
	for i, p := range parts {
		v, err := parseIPv4Part(p)
		if err != nil {
			return netip.Addr{}, true, err
		}
		if i < len(parts)-1 {
			if v > 255 {
				return netip.Addr{}, true, fmt.Errorf("part %d over 255", i+1)
			}
			n |= v << (8 * (3 - i))
			continue
		}
		if v >= 1<<(8*(5-len(parts))) {
			return netip.Addr{}, true, fmt.Errorf("last part too large")
		}
		n |= v
	}
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true, nil
}

// parseIPv4Part parses one part of a browser IPv4 address: 0x… is
// hexadecimal (an empty 0x is zero), a leading 0 is octal, else decimal.
func parseIPv4Part(p string) (uint64, error) {
	base := 10
	switch {
	case p == "":
		return 0, fmt.Errorf("empty part")
	case len(p) >= 2 && (p[:2] == "0x" || p[:2] == "0X"):
		p, base = p[2:], 16
		if p == "" {
			return 0, nil
		}
	case len(p) >= 2 && p[0] == '0':
		p, base = p[1:], 8
	}
	if p[0] == '+' || p[0] == '-' {
		return 0, fmt.Errorf("signed part")
	}
	return strconv.ParseUint(p, base, 64)
}

func isDecimal(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// localRanges are the blocks, besides those netip classifies, that lead to
// this machine, its networks, or nowhere public.
var localRanges = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "a \"this network\" address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a shared (carrier-grade NAT) address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "a protocol-assignment address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved or broadcast address"},
	{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
}

// localAddr says what kind of local address a is, or "" for a public one.
// IPv4 inside IPv6 (mapped, or the NAT64 prefix 64:ff9b::/96) is judged by
// its IPv4 part.
func localAddr(a netip.Addr) string {
	a = a.WithZone("").Unmap()
	if nat64 := netip.MustParsePrefix("64:ff9b::/96"); nat64.Contains(a) {
		b := a.As16()
		a = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	switch {
	case a.IsLoopback():
		return "a loopback address"
	case a.IsUnspecified():
		return "the unspecified address"
	case a.IsPrivate():
		return "a private address"
	case a.IsLinkLocalUnicast():
		return "a link-local address"
	case a.IsMulticast():
		return "a multicast address"
	}
	for _, r := range localRanges {
		if r.prefix.Contains(a) {
			return r.why
		}
	}
	return ""
}
