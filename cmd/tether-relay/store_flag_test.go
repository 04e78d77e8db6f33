package main

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// TestStoreFlag reads --store and TETHER_RELAY_STORE, the flag winning.
func TestStoreFlag(t *testing.T) {
	env := map[string]string{"TETHER_RELAY_STORE": "postgres://env/db"}
	getenv := func(k string) string { return env[k] }
	for _, tc := range []struct {
		name string
		args []string
		env  func(string) string
		want string
	}{
		{"default is SQLite", nil, func(string) string { return "" }, ""},
		{"environment", nil, getenv, "postgres://env/db"},
		{"flag wins", []string{"--store", "postgresql://flag/db"}, getenv, "postgresql://flag/db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parse(tc.args, tc.env, io.Discard)
			if err != nil || c.storeURL != tc.want {
				t.Fatalf("storeURL = %q, %v; want %q", c.storeURL, err, tc.want)
			}
		})
	}
}

// TestStoreFlagRefusesOtherSchemes: a --store that is not PostgreSQL stops
// the relay with a message that does not repeat the URL's password.
func TestStoreFlagRefusesOtherSchemes(t *testing.T) {
	var stderr bytes.Buffer
	code := run([]string{"--store", "mysql://u:sekrit@h/db", "--data", filepath.Join(t.TempDir(), "data"), "--listen", "127.0.0.1:0"},
		func(string) string { return "" }, io.Discard, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "postgres://") || strings.Contains(stderr.String(), "sekrit") {
		t.Fatalf("run = %d, stderr:\n%s\nwant 1 and a hint without the password", code, stderr.String())
	}
}
