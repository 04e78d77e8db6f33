package main

import (
	"io"
	"slices"
	"testing"
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
