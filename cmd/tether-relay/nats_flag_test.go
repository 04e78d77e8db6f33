package main

import (
	"io"
	"slices"
	"strings"
	"testing"
)

// TestNATSFlag reads --nats (repeatable) and TETHER_RELAY_NATS (several
// URLs, comma-separated), and refuses what cannot work.
func TestNATSFlag(t *testing.T) {
	pg := []string{"--store", "postgres://h/db"}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want []string
		err  string
	}{
		{"default is one node", nil, nil, nil, ""},
		{"flags", append(pg, "--nats", "nats://a:4222", "--nats", "nats://b:4222"), nil, []string{"nats://a:4222", "nats://b:4222"}, ""},
		{"environment", pg, map[string]string{"TETHER_RELAY_NATS": "nats://a:4222, nats://b:4222"}, []string{"nats://a:4222", "nats://b:4222"}, ""},
		{"not a NATS URL", append(pg, "--nats", "http://a:4222"), nil, nil, "nats://"},
		{"no shared store", []string{"--nats", "nats://a:4222"}, nil, nil, "--store postgres"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parse(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parse = %v, want an error about %q", err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(c.natsURLs, tc.want) {
				t.Fatalf("natsURLs = %q, %v; want %q", c.natsURLs, err, tc.want)
			}
		})
	}
}
