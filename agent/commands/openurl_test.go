package commands

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/tether-desktop/tether/protocol"
)

// fakeNames stands in for DNS (the test machines have none) with answers
// chosen to probe the check: a name that rebinds to a private address, one
// whose answers mix public and loopback, and one that does not resolve.
func fakeNames(t *testing.T) {
	t.Helper()
	answers := map[string][]string{
		"public.test":   {"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:bb16"},
		"rebind.test":   {"10.1.2.3"},
		"mixed.test":    {"93.184.215.14", "127.0.0.1"},
		"metadata.test": {"169.254.169.254"},
	}
	old := lookupHost
	lookupHost = func(ctx context.Context, host string) ([]netip.Addr, error) {
		var out []netip.Addr
		for _, s := range answers[host] {
			out = append(out, netip.MustParseAddr(s))
		}
		if out == nil {
			return nil, errors.New("no such host")
		}
		return out, nil
	}
	t.Cleanup(func() { lookupHost = old })
}

// openURLSetup returns a dispatcher with every command on; private says
// whether the owner also switched on OpenURLPrivate.
func openURLSetup(private bool) (*fakeDesktop, *Dispatcher) {
	desk := &fakeDesktop{}
	d := NewDispatcher(Builtin(desk), func(name string) bool { return name != OpenURLPrivate || private }, func() bool { return false })
	return desk, d
}

func TestOpenURLRefusesLocalAddresses(t *testing.T) {
	fakeNames(t)
	for _, u := range []string{
		"http://localhost:8080/admin",
		"http://LOCALHOST./",
		"http://app.localhost/",
		"http://127.0.0.1/",
		"http://127.0.0.1.:631/",
		"http://user:pw@127.0.0.1/",
		"http://127.1/",
		"http://0x7f.1/",
		"http://0x7f000001/",
		"http://2130706433/",
		"http://0177.0.0.1/",
		"http://[::1]/",
		"http://[::ffff:127.0.0.1]/",
		"http://[64:ff9b::7f00:1]/",
		"http://0.0.0.0:8080/",
		"http://0/",
		"http://10.0.0.1/",
		"http://172.16.5.4/",
		"http://192.168.1.1/",
		"http://169.254.169.254/latest/meta-data/",
		"http://[fe80::1%25eth0]/",
		"http://[fc00::1]/",
		"http://[fec0::1]/",
		"http://224.0.0.251/",
		"http://[ff02::1]/",
		"http://100.64.0.1/",
		"http://255.255.255.255/",
		"http://256.0.0.1/",
		"http://1.2.3.4.5/",
		"http://08.0.0.1/",
		"https://rebind.test/",
		"https://mixed.test/",
		"http://metadata.test/",
		"https://does-not-resolve.test/",
	} {
		t.Run(u, func(t *testing.T) {
			desk, d := openURLSetup(false)
			_, perr := d.Run(context.Background(), "open_url", protocol.MustData(map[string]string{"url": u}))
			if perr == nil || perr.Code != protocol.CodeNotAllowed || !strings.Contains(perr.Message, "tether allow "+OpenURLPrivate) {
				t.Fatalf("Run(open_url %s) = %v, want not_allowed naming the opt-in", u, perr)
			}
			if c := desk.Calls(); len(c) != 0 {
				t.Fatalf("the opener was called: %q", c)
			}
		})
	}
}

// TestOpenURLPercentEncodedHost: a browser decodes %31%32%37 to 127; the
// agent refuses such a host before it gets to the address check.
func TestOpenURLPercentEncodedHost(t *testing.T) {
	desk, d := openURLSetup(false)
	if _, perr := d.Run(context.Background(), "open_url", json.RawMessage(`{"url":"http://%31%32%37.0.0.1/"}`)); perr == nil {
		t.Fatal("percent-encoded loopback host accepted")
	}
	if c := desk.Calls(); len(c) != 0 {
		t.Fatalf("the opener was called: %q", c)
	}
}

func TestOpenURLPublicAndOptIn(t *testing.T) {
	fakeNames(t)
	for _, tc := range []struct {
		url     string
		private bool
	}{
		{"https://public.test/a?b=c", false},
		{"http://93.184.215.14/", false},
		{"http://8.8.8.8./", false},
		{"http://[2606:4700:4700::1111]/", false},
		{"http://0x8.0x8.0x8.0x8/", false}, // 8.8.8.8 the browser's way
		{"http://localhost:8080/", true},
		{"http://192.168.1.1/", true},
		{"https://does-not-resolve.test/", true},
	} {
		t.Run(tc.url, func(t *testing.T) {
			desk, d := openURLSetup(tc.private)
			if _, perr := d.Run(context.Background(), "open_url", json.RawMessage(`{"url":"`+tc.url+`"}`)); perr != nil {
				t.Fatalf("Run(open_url %s) private=%v: %v", tc.url, tc.private, perr)
			}
			if c := desk.Calls(); len(c) != 1 || c[0] != "open "+tc.url {
				t.Fatalf("opener calls %q", c)
			}
		})
	}
}

func TestAllowedOutsideHandler(t *testing.T) {
	if Allowed(context.Background(), OpenURLPrivate) {
		t.Fatal("Allowed outside a Dispatcher's handler must be false")
	}
}

func TestBrowserIPv4(t *testing.T) {
	for _, tc := range []struct {
		host string
		want string // "" when not a number, "!" when a refused number
	}{
		{"127.0.0.1", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"127.0.1", "127.0.0.1"},
		{"0x7f.0.0.1", "127.0.0.1"},
		{"0X7F.0.0.1", "127.0.0.1"},
		{"0177.0.0.01", "127.0.0.1"},
		{"2130706433", "127.0.0.1"},
		{"0x7f000001", "127.0.0.1"},
		{"0x", "0.0.0.0"},
		{"1.2.3.4.", "1.2.3.4"},
		{"256.1.1.1", "!"},
		{"1.2.3.256", "!"},
		{"1.2.65536", "!"},
		{"4294967296", "!"},
		{"09", "!"},
		{"1.2.3.4.5", "!"},
		{"1..2", "!"},
		{"example.com", ""},
		{"cafe", ""},
		{"1.2.3.com", ""},
		{"0x7f.example", ""},
	} {
		a, isNumber, err := browserIPv4(tc.host)
		var got string
		switch {
		case !isNumber:
			got = ""
		case err != nil:
			got = "!"
		default:
			got = a.String()
		}
		if got != tc.want {
			t.Errorf("browserIPv4(%q) = %q (number %v, err %v), want %q", tc.host, got, isNumber, err, tc.want)
		}
	}
}
