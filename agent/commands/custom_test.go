//go:build !windows

package commands

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

// customDispatcher returns a Dispatcher with no built-ins, everything
// allowed, and the commands of the given custom-commands.json text.
func customDispatcher(t *testing.T, text string) *Dispatcher {
	t.Helper()
	defs, err := ParseCustom([]byte(text), func(string) bool { return false })
	if err != nil {
		t.Fatalf("ParseCustom: %v", err)
	}
	d := NewDispatcher(nil, func(string) bool { return true }, func() bool { return false })
	d.SetCustom(Custom(defs))
	var clock time.Time
	d.now = func() time.Time { clock = clock.Add(time.Second); return clock } // no rate limit in the way
	t.Cleanup(d.Wait)
	return d
}

func runResult(t *testing.T, d *Dispatcher, name, args string) (CustomResult, *protocol.Error) {
	t.Helper()
	data, perr := d.Run(context.Background(), name, json.RawMessage(args))
	var res CustomResult
	if perr == nil {
		if err := json.Unmarshal(data, &res); err != nil {
			t.Fatalf("result data %s: %v", data, err)
		}
	}
	return res, perr
}

// TestCustomArgumentsArriveLiterally runs a real printf whose argument is
// shell syntax: it must arrive as one literal argv element, and nothing of
// it may be run.
func TestCustomArgumentsArriveLiterally(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "pwned")
	d := customDispatcher(t, `[{"name":"echo","title":"Echo","argv":["printf","[%s]\n","{text}","{n}","{flag}"],
		"args":[{"name":"text","type":"string","max_len":200,"required":true},{"name":"n","type":"integer"},{"name":"flag","type":"boolean"}],
		"timeout_ms":10000}]`)
	for _, inj := range []string{
		"; rm -rf ~",
		"$(touch " + marker + ")",
		"`touch " + marker + "`",
		"a b\tc\n> " + marker,
		"{n}",
		"--help",
		"' \" \\ * ?",
	} {
		args := protocol.MustData(map[string]any{"text": inj, "n": 42})
		res, perr := runResult(t, d, "echo", string(args))
		if perr != nil {
			t.Fatalf("%q: %v", inj, perr)
		}
		if want := "[" + inj + "][42]"; res.Stdout != want+"\n" && res.Stdout != strings.Replace(want, "][", "]\n[", 1)+"\n" {
			t.Errorf("%q: stdout %q, want the argument as one element then 42", inj, res.Stdout)
		}
		if res.ExitCode != 0 || res.Stderr != "" {
			t.Errorf("%q: exit %d stderr %q", inj, res.ExitCode, res.Stderr)
		}
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an injected command ran: %v", err)
	}
	// Validation happens before anything runs.
	if _, perr := runResult(t, d, "echo", `{"text":"`+strings.Repeat("x", 201)+`"}`); perr == nil || perr.Code != protocol.CodeInvalidArgs {
		t.Errorf("text over max_len: %v, want invalid_args", perr)
	}
	if _, perr := runResult(t, d, "echo", `{"text":"a\u0000b"}`); perr == nil || perr.Code != protocol.CodeInvalidArgs {
		t.Errorf("NUL in text: %v, want invalid_args", perr)
	}
	if _, perr := runResult(t, d, "echo", `{}`); perr == nil || perr.Code != protocol.CodeInvalidArgs {
		t.Errorf("missing required text: %v, want invalid_args", perr)
	}
}

// TestCustomExitCodeAndCleanEnvironment checks that a failing program is a
// result with its code and stderr, and that the agent's environment does not
// leak into the command.
func TestCustomExitCodeAndCleanEnvironment(t *testing.T) {
	t.Setenv("TETHER_SECRET_TEST", "s3cret")
	d := customDispatcher(t, `[{"name":"env","argv":["/usr/bin/env"]},
		{"name":"fail","argv":["/bin/sh","-c","echo out; echo oops >&2; exit 3"]}]`)
	res, perr := runResult(t, d, "env", "")
	if perr != nil {
		t.Fatal(perr)
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		names = append(names, strings.SplitN(line, "=", 2)[0])
	}
	for _, n := range names {
		if n != "PATH" && n != "HOME" && n != "LANG" {
			t.Errorf("environment has %s; want only PATH, HOME, LANG (got %v)", n, names)
		}
	}
	if !strings.Contains(res.Stdout, "PATH=/usr/bin:/bin\n") {
		t.Errorf("PATH is not the clean one: %q", res.Stdout)
	}
	res, perr = runResult(t, d, "fail", "")
	if perr != nil {
		t.Fatal(perr)
	}
	if res.ExitCode != 3 || res.Stdout != "out\n" || res.Stderr != "oops\n" {
		t.Errorf("got %+v, want exit 3, out, oops", res)
	}
}

// TestCustomTimeoutKillsTheGroup runs a shell that starts a child and
// waits: past the timeout the result is timeout, and the child is gone too.
func TestCustomTimeoutKillsTheGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	d := customDispatcher(t, `[{"name":"hang","argv":["/bin/sh","-c","sleep 300 & echo $! > \"$1\"; wait","sh","{pidfile}"],
		"args":[{"name":"pidfile","type":"string","max_len":4096}],"timeout_ms":1500}]`)
	start := time.Now()
	_, perr := runResult(t, d, "hang", string(protocol.MustData(map[string]string{"pidfile": pidFile})))
	if perr == nil || perr.Code != protocol.CodeTimeout {
		t.Fatalf("got %v, want timeout", perr)
	}
	if took := time.Since(start); took > 1500*time.Millisecond+customGrace {
		t.Errorf("answered after %v", took)
	}
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the child never started: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("child %d of the timed-out command still runs", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid runs (a zombie waiting for its reaper does not).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

// TestCustomHugeOutput writes megabytes to both streams: each is cut to
// MaxCustomOutput, marked truncated, and the program is not blocked by it.
func TestCustomHugeOutput(t *testing.T) {
	d := customDispatcher(t, `[{"name":"flood","argv":["/bin/sh","-c","yes é | head -c 3000000; yes E | head -c 500000 >&2; exit 7"]}]`)
	res, perr := runResult(t, d, "flood", "")
	if perr != nil {
		t.Fatal(perr)
	}
	if len(res.Stdout) > MaxCustomOutput || len(res.Stdout) < MaxCustomOutput-4 || !res.StdoutTruncated {
		t.Errorf("stdout: %d bytes, truncated %v; want about %d and true", len(res.Stdout), res.StdoutTruncated, MaxCustomOutput)
	}
	if !strings.HasPrefix(res.Stdout, "é\né\n") || strings.ContainsRune(res.Stdout, '\uFFFD') {
		t.Errorf("stdout was not cut on a rune boundary: ends %q", res.Stdout[len(res.Stdout)-8:])
	}
	if len(res.Stderr) != MaxCustomOutput || !res.StderrTruncated {
		t.Errorf("stderr: %d bytes, truncated %v", len(res.Stderr), res.StderrTruncated)
	}
	if res.ExitCode != 7 {
		t.Errorf("exit code %d, want 7", res.ExitCode)
	}
}

func TestCustomMissingProgramIsUnavailable(t *testing.T) {
	d := customDispatcher(t, `[{"name":"gone","argv":["no-such-program-here"]}]`)
	if _, perr := runResult(t, d, "gone", ""); perr == nil || perr.Code != protocol.CodeUnavailable {
		t.Fatalf("got %v, want unavailable", perr)
	}
}

func TestParseCustomRefusals(t *testing.T) {
	builtin := func(n string) bool { return n == "beep" || n == "mouse" }
	for _, tc := range []struct{ name, text, want string }{
		{"not an array", `{"name":"x"}`, "not a JSON array"},
		{"unknown field", `[{"name":"x","argv":["/bin/true"],"shell":true}]`, "unknown field"},
		{"clash", `[{"name":"beep","argv":["/bin/true"]}]`, "clashes with a built-in"},
		{"clash with a contract name", `[{"name":"notify","argv":["/bin/true"]}]`, "clashes with a built-in"},
		{"bad name", `[{"name":"Rm -rf","argv":["/bin/true"]}]`, "must be 1 to 64"},
		{"twice", `[{"name":"x","argv":["/bin/true"]},{"name":"x","argv":["/bin/false"]}]`, "declared twice"},
		{"empty argv", `[{"name":"x","argv":[]}]`, "argv is empty"},
		{"relative program", `[{"name":"x","argv":["./run.sh"]}]`, "absolute path"},
		{"placeholder inside an element", `[{"name":"x","argv":["/bin/echo","--to={t}"],"args":[{"name":"t","type":"string"}]}]`, "whole argv element"},
		{"undeclared placeholder", `[{"name":"x","argv":["/bin/echo","{t}"]}]`, "names no declared arg"},
		{"placeholder program", `[{"name":"x","argv":["{t}"],"args":[{"name":"t","type":"string"}]}]`, "argv[0]"},
		{"url type", `[{"name":"x","argv":["/bin/echo"],"args":[{"name":"t","type":"url"}]}]`, "must be string, integer"},
		{"control chars", `[{"name":"x","argv":["/bin/echo"],"args":[{"name":"t","type":"string","control_chars":true}]}]`, "control_chars"},
		{"huge max_len", `[{"name":"x","argv":["/bin/echo"],"args":[{"name":"t","type":"string","max_len":100000}]}]`, "max_len"},
		{"long timeout", `[{"name":"x","argv":["/bin/echo"],"timeout_ms":86400000}]`, "timeout_ms"},
		{"bad default", `[{"name":"x","argv":["/bin/echo"],"args":[{"name":"n","type":"integer","max":3,"default":9}]}]`, "default"},
		{"trailing text", `[] []`, "after the JSON array"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCustom([]byte(tc.text), builtin)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	defs, err := ParseCustom([]byte(`[{"name":"backup","title":"Run backup","argv":["/usr/local/bin/backup","--target","{target}"],
		"args":[{"name":"target","type":"string","max_len":64}],"timeout_ms":60000}]`), builtin)
	if err != nil || len(defs) != 1 || defs[0].Timeout() != time.Minute {
		t.Fatalf("the issue's example: %v %+v", err, defs)
	}
}

func TestLoadCustomFile(t *testing.T) {
	dir := t.TempDir()
	defs, err := LoadCustom(dir, func(string) bool { return false })
	if err != nil || defs != nil {
		t.Fatalf("missing file: %v %v, want none and no error", defs, err)
	}
	os.WriteFile(filepath.Join(dir, CustomFile), []byte(`[{"name":"x"`), 0o600)
	if _, err := LoadCustom(dir, func(string) bool { return false }); err == nil || !strings.Contains(err.Error(), CustomFile) {
		t.Fatalf("broken file: %v, want an error naming the file", err)
	}
}

// TestSetCustomReplacesOnlyCustom checks the dispatcher's view after a
// reload: built-ins stay, old custom commands go, a clash is ignored.
func TestSetCustomReplacesOnlyCustom(t *testing.T) {
	d := NewDispatcher([]Command{{Spec: protocol.CommandSpec{Name: "beep"}, Run: func(context.Context, map[string]any) (json.RawMessage, error) { return nil, nil }}},
		func(string) bool { return true }, func() bool { return false })
	d.SetCustom(Custom([]CustomDef{{Name: "one", Argv: []string{"/bin/true"}}}))
	if got := strings.Join(d.Names(), ","); got != "beep,one" {
		t.Fatalf("names %s", got)
	}
	d.SetCustom(Custom([]CustomDef{{Name: "two", Argv: []string{"/bin/true"}}, {Name: "beep", Argv: []string{"/bin/false"}}}))
	if got := strings.Join(d.Names(), ","); got != "beep,two" {
		t.Fatalf("names %s", got)
	}
	if _, perr := d.Run(context.Background(), "one", nil); perr == nil || perr.Code != protocol.CodeUnknownCommand {
		t.Fatalf("removed command: %v", perr)
	}
	if !d.IsBuiltin("beep") || d.IsBuiltin("two") || !d.DefaultOn("two") {
		t.Fatal("built-in/custom flags wrong")
	}
	if data, perr := d.Run(context.Background(), "beep", nil); perr != nil || data != nil {
		t.Fatalf("beep must stay the built-in: %s %v", data, perr)
	}
}
