package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tether-desktop/tether/internal/logbuf"
)

func TestParse(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		want    config
		wantErr bool
	}{
		{name: "defaults", want: config{listen: "127.0.0.1:8080", data: "./tether-data", publicURL: "http://127.0.0.1:8080", logLevel: "info"}},
		{name: "environment", env: map[string]string{"TETHER_RELAY_LISTEN": ":9000", "TETHER_RELAY_ALLOWED_ORIGIN": "https://a.example, https://b.example"},
			want: config{listen: ":9000", data: "./tether-data", publicURL: "http://:9000", logLevel: "info", allowedOrigins: []string{"https://a.example", "https://b.example"}}},
		{name: "flags win over environment", args: []string{"--listen", "127.0.0.1:1"}, env: map[string]string{"TETHER_RELAY_LISTEN": ":9000"},
			want: config{listen: "127.0.0.1:1", data: "./tether-data", publicURL: "http://127.0.0.1:1", logLevel: "info"}},
		{name: "tls makes https", args: []string{"--tls-cert", "c", "--tls-key", "k", "--public-url", ""},
			want: config{listen: "127.0.0.1:8080", data: "./tether-data", publicURL: "https://127.0.0.1:8080", logLevel: "info", tlsCert: "c", tlsKey: "k"}},
		{name: "cert without key", args: []string{"--tls-cert", "c"}, wantErr: true},
		{name: "stray argument", args: []string{"serve"}, wantErr: true},
		{name: "unknown flag", args: []string{"--port", "1"}, wantErr: true},
		{name: "trusted proxy not a CIDR", args: []string{"--trusted-proxy", "10.0.0.0/33"}, wantErr: true},
		{name: "trusted proxy from the environment not a CIDR", env: map[string]string{"TETHER_RELAY_TRUSTED_PROXY": "10.0.0.1, proxy.example"}, wantErr: true},
		{name: "ipv6 prefix out of range", args: []string{"--ipv6-prefix", "129"}, wantErr: true},
		{name: "no sockets per session", args: []string{"--client-sockets-per-session", "0"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parse(tc.args, env(tc.env), io.Discard)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if tc.wantErr {
				return
			}
			if got.listen != tc.want.listen || got.data != tc.want.data || got.publicURL != tc.want.publicURL ||
				got.tlsCert != tc.want.tlsCert || got.tlsKey != tc.want.tlsKey || got.logLevel != tc.want.logLevel ||
				!slices.Equal(got.allowedOrigins, tc.want.allowedOrigins) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseSecurityFlags(t *testing.T) {
	env := map[string]string{"TETHER_RELAY_TRUSTED_PROXY": "10.0.0.0/8, 192.0.2.7", "TETHER_RELAY_METRICS_LISTEN": "127.0.0.1:9100"}
	got, err := parse([]string{"--trusted-proxy", "2001:db8::/32", "--ipv6-prefix", "56"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("2001:db8::/32")}
	if !slices.Equal(got.trustedProxies, want) || got.metricsListen != "127.0.0.1:9100" || got.ipv6Prefix != 56 ||
		got.socketsPerSession != 16 || got.socketsPerAddress != 64 || got.liveCodes != 100 {
		t.Fatalf("got %+v", got)
	}
}

// TestMetricsOnTheirOwnListener runs the relay as main does: with
// --metrics-listen, /metrics answers there and not on the public listener.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	c, err := parse([]string{"--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--data", t.TempDir()}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var logs logbuf.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, c, slog.New(slog.NewTextHandler(&logs, nil))) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	addr := func(msg string) string {
		re := regexp.MustCompile(`msg="` + msg + `" addr=(\S+)`)
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if m := re.FindStringSubmatch(logs.String()); m != nil {
				return m[1]
			}
		}
		t.Fatalf("no %q in the log:\n%s", msg, logs.String())
		return ""
	}
	public, metrics := addr("relay listening"), addr("metrics listening")
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("http://" + metrics + "/metrics"); code != 200 || !strings.Contains(body, "tether_connections") {
		t.Errorf("metrics listener: %d %s", code, body)
	}
	if code, body := get("http://" + public + "/metrics"); code != 404 || !strings.Contains(body, `"code":"not_found"`) {
		t.Errorf("public listener still serves /metrics: %d %s", code, body)
	}
	if code, _ := get("http://" + public + "/healthz"); code != 200 {
		t.Errorf("healthz: %d", code)
	}
	if !strings.Contains(logs.String(), "open registration") {
		t.Errorf("no warning about open registration in the log:\n%s", logs.String())
	}
}
