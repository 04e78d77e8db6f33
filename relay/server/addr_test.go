package server

import (
	"net/http/httptest"
	"testing"
)

func TestClientAddr(t *testing.T) {
	proxies, err := ParseTrustedProxies([]string{"10.0.0.0/8", "192.0.2.7", " "})
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{cfg: Config{TrustedProxies: proxies, IPv6Prefix: 64}}
	for _, tc := range []struct {
		name, peer string
		xff        []string
		want, key  string
	}{
		{"direct, no header", "198.51.100.1:1000", nil, "198.51.100.1", "198.51.100.1"},
		{"direct, header ignored", "198.51.100.1:1000", []string{"203.0.113.5"}, "198.51.100.1", "198.51.100.1"},
		{"one trusted proxy", "10.1.2.3:1000", []string{"203.0.113.5"}, "203.0.113.5", "203.0.113.5"},
		{"client's forged entries on the left are not believed", "10.1.2.3:1000", []string{"1.1.1.1, 2.2.2.2", "203.0.113.5"}, "203.0.113.5", "203.0.113.5"},
		{"two trusted proxies", "192.0.2.7:1000", []string{"203.0.113.5, 10.9.9.9"}, "203.0.113.5", "203.0.113.5"},
		{"every hop trusted: the left-most", "10.1.2.3:1000", []string{"10.4.4.4"}, "10.4.4.4", "10.4.4.4"},
		{"a broken hop: the last trusted one", "10.1.2.3:1000", []string{"203.0.113.5, garbage"}, "10.1.2.3", "10.1.2.3"},
		{"a hop with a port", "10.1.2.3:1000", []string{"203.0.113.5:4711"}, "203.0.113.5", "203.0.113.5"},
		{"trusted proxy, no header", "10.1.2.3:1000", nil, "10.1.2.3", "10.1.2.3"},
		{"IPv6 client behind the proxy: its /64", "10.1.2.3:1000", []string{"2001:db8:1:2:3:4:5:6"}, "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"IPv4-mapped peer", "[::ffff:198.51.100.1]:1000", nil, "198.51.100.1", "198.51.100.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for _, h := range tc.xff {
				r.Header.Add("X-Forwarded-For", h)
			}
			if got := s.clientAddr(r).String(); got != tc.want {
				t.Errorf("clientAddr = %s, want %s", got, tc.want)
			}
			if got := s.limitKey(r); got != tc.key {
				t.Errorf("limitKey = %s, want %s", got, tc.key)
			}
		})
	}
	if _, err := ParseTrustedProxies([]string{"10.0.0.0/8", "proxy.example"}); err == nil {
		t.Error("a host name was taken as a trusted proxy")
	}
}
