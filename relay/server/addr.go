package server

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParseTrustedProxies parses CIDRs (or single addresses) of reverse proxies
// whose X-Forwarded-For the relay believes.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: not a CIDR or an IP address", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// trusted reports whether a is one of the configured reverse proxies.
func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr is the address of the client a request comes from. It is the
// peer of the connection, unless that peer is a trusted proxy: then it is
// the right-most address of X-Forwarded-For that is not itself a trusted
// proxy (the left part of the header is whatever the client chose to send,
// so it is never believed). From anyone else X-Forwarded-For is ignored.
func (s *Server) clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{} // not TCP (a test's fake request): one shared key
	}
	peer := ap.Addr().Unmap()
	if len(s.cfg.TrustedProxies) == 0 || !s.trusted(peer) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := parseHop(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a broken chain: the last trusted hop is all we know
		}
		client = a.Unmap()
		if !s.trusted(client) {
			break
		}
	}
	return client
}

// limitKey is the key the per-address limits count a client under: its
// IPv4 address, or the IPv6 prefix of cfg.IPv6Prefix bits (a /64 by
// default: one subscriber usually gets a whole /64, so counting single
// IPv6 addresses would give each of them 2^64 budgets).
func (s *Server) limitKey(r *http.Request) string {
	a := s.clientAddr(r)
	if a.Is6() {
		if p, err := a.Prefix(s.cfg.IPv6Prefix); err == nil {
			return p.String()
		}
	}
	return a.String()
}

// logAddr is the client address as it goes into the log.
func (s *Server) logAddr(r *http.Request) string {
	if a := s.clientAddr(r); a.IsValid() {
		return a.String()
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	return host
}

// parseHop parses one X-Forwarded-For entry: an address, or (as some
// proxies write it) an address with a port.
func parseHop(h string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(h); err == nil {
		return a, nil
	}
	ap, err := netip.ParseAddrPort(h)
	return ap.Addr(), err
}
