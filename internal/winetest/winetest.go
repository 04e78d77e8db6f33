// Package winetest runs Tether's Windows builds under Wine in tests: it
// cross-builds a package with mingw (cgo, console or GUI subsystem), makes a
// fresh Wine prefix, bridges Wine 8's missing ProcessPrng with a test-only
// DLL built from testdata/prng.c, and runs .exe files there with a display and an
// ALSA configuration of the test's choosing. Every wait is bounded and the
// prefix's wineserver is killed when the test ends. It is for tests only.
//
// Where wine64 or mingw is missing the test is skipped, unless
// TETHER_REQUIRE_DESKTOP is set (scripts/test sets it): then it fails.
package winetest

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

//go:embed testdata/prng.c
var prngSource []byte

//go:embed testdata/noconsole.c
var noconsoleSource []byte

// Mingw is the C cross-compiler of the Windows builds.
const Mingw = "x86_64-w64-mingw32-gcc"

// wineDirs are where Debian puts wine64 when only the wine64 package is
// installed (it is then not on PATH).
var wineDirs = []string{"/usr/lib/wine", "/usr/lib/x86_64-linux-gnu/wine"}

// Wine is one Wine prefix of a test. Its methods are safe for one goroutine
// at a time, except Command's processes, which may run concurrently.
type Wine struct {
	// Prefix is the WINEPREFIX directory.
	Prefix     string
	wine, serv string
	env        []string
	tmp        string // the test's directory around Prefix

	mu         sync.Mutex
	relaunched int // launches of wine64 that failed at once and were retried

	noconsole struct { // built on first use by RunInConsole
		once sync.Once
		exe  string
		err  error
	}
}

// find returns wine64 and wineserver, skipping or failing the test when
// they or mingw are missing.
func find(t testing.TB) (wine, server string) {
	t.Helper()
	missing := func(what string, err error) {
		if os.Getenv("TETHER_REQUIRE_DESKTOP") != "" {
			t.Fatalf("%s is required (TETHER_REQUIRE_DESKTOP is set); scripts/setup --test installs it: %v", what, err)
		}
		t.Skipf("%s not found (scripts/setup --test installs it): %v", what, err)
	}
	if _, err := exec.LookPath(Mingw); err != nil {
		missing(Mingw, err)
	}
	for _, name := range []string{"wine64", "wine"} {
		if p, err := exec.LookPath(name); err == nil {
			wine = p
			break
		}
	}
	for _, d := range wineDirs {
		if wine == "" {
			if _, err := os.Stat(filepath.Join(d, "wine64")); err == nil {
				wine = filepath.Join(d, "wine64")
			}
		}
		if _, err := os.Stat(filepath.Join(d, "wineserver")); err == nil && server == "" {
			server = filepath.Join(d, "wineserver")
		}
	}
	if server == "" {
		server, _ = exec.LookPath("wineserver")
	}
	if wine == "" || server == "" {
		missing("wine64 (Debian package wine64)", errors.New("no wine64 and wineserver on PATH or in "+strings.Join(wineDirs, ", ")))
	}
	return wine, server
}

// New makes a fresh prefix in a temporary directory with the ProcessPrng
// shim in its system32, for programs that run with DISPLAY=display (may be
// empty) and the extra environment env ("KEY=value"). Programs run with
// WINEDEBUG=-all unless TETHER_WINEDEBUG is set (e.g. "+seh,+winsock,+tid"
// to see exceptions and socket calls, per thread). It blocks until the
// prefix is ready (about 10 s) and, when the test ends, kills every process
// of the prefix and removes it.
func New(t testing.TB, display string, env ...string) *Wine {
	t.Helper()
	wine, server := find(t)
	dir, err := os.MkdirTemp("", "tether-wine")
	if err != nil {
		t.Fatal(err)
	}
	w := &Wine{Prefix: filepath.Join(dir, "prefix"), wine: wine, serv: server, tmp: dir}
	w.env = append(os.Environ(),
		"WINEPREFIX="+w.Prefix, "WINEDEBUG=-all", "WINEDLLOVERRIDES=mscoree,mshtml=",
		"WINESERVER="+server, "DISPLAY="+display)
	if d := os.Getenv("TETHER_WINEDEBUG"); d != "" {
		w.env = append(w.env, "WINEDEBUG="+d)
	}
	w.env = append(w.env, env...)
	t.Cleanup(func() {
		w.Kill(t)
		os.RemoveAll(dir)
		if w.relaunched > 0 {
			t.Logf("wine64 failed at launch, with no output, %d times; each was retried once", w.relaunched)
		}
	})

	shim := filepath.Join(dir, "bcryptprimitives.dll")
	src := filepath.Join(dir, "prng.c")
	if err := os.WriteFile(src, prngSource, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(Mingw, "-shared", "-O2", "-o", shim, src, "-lbcrypt").CombinedOutput(); err != nil {
		t.Fatalf("build the ProcessPrng shim: %v\n%s", err, out)
	}
	if _, errOut, err := w.run(2*time.Minute, "wineboot", "-u"); err != nil {
		t.Fatalf("wineboot -u: %v\n%s", err, errOut)
	}
	// wineboot returns before the prefix is written out; wait for it.
	w.Wait(t, time.Minute)
	sys32 := filepath.Join(w.Prefix, "drive_c", "windows", "system32")
	data, err := os.ReadFile(shim)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sys32, "bcryptprimitives.dll"), data, 0o644); err != nil {
		t.Fatalf("install the shim: %v", err)
	}
	return w
}

// Env is the environment the prefix's programs run with.
func (w *Wine) Env() []string { return append([]string(nil), w.env...) }

// Command returns a command that runs exe (a Unix path to a .exe, or a
// program of the prefix such as "reg" or "msiexec") with args under Wine.
// It stops when ctx ends.
func (w *Wine) Command(ctx context.Context, exe string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, w.wine, append([]string{exe}, args...)...)
	cmd.Env = w.Env()
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Run runs exe with args under Wine, waiting at most timeout, and returns
// what it printed on stdout and stderr.
func (w *Wine) Run(t testing.TB, timeout time.Duration, exe string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return w.run(timeout, exe, args...)
}

func (w *Wine) run(timeout time.Duration, exe string, args ...string) (string, string, error) {
	out, errOut, err, instant := w.runOnce(timeout, exe, args...)
	if instant {
		// wine64 itself, not the program, failed at launch: no Go program
		// exits this fast under Wine. Seen once on a machine under heavy
		// load; try once more, and say so when the test ends.
		w.mu.Lock()
		w.relaunched++
		w.mu.Unlock()
		out, errOut, err, _ = w.runOnce(timeout, exe, args...)
	}
	return out, errOut, err
}

// instantExit is shorter than any program's run under Wine.
const instantExit = 20 * time.Millisecond

func (w *Wine) runOnce(timeout time.Duration, exe string, args ...string) (stdout, stderr string, err error, instant bool) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := w.Command(ctx, exe, args...)
	// Files, not pipes: the prefix's own processes that Wine starts on the
	// way (services.exe, explorer.exe) inherit them and outlive exe.
	out, err := os.CreateTemp("", "wine-out")
	if err != nil {
		return "", "", err, false
	}
	defer os.Remove(out.Name())
	defer out.Close()
	errf, err := os.CreateTemp("", "wine-err")
	if err != nil {
		return "", "", err, false
	}
	defer os.Remove(errf.Name())
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = out, errf
	start := time.Now()
	err = cmd.Run()
	took := time.Since(start)
	if ctx.Err() != nil {
		err = fmt.Errorf("%s %s: still running after %v: %w", exe, strings.Join(args, " "), timeout, ctx.Err())
	}
	o, _ := os.ReadFile(out.Name())
	e, _ := os.ReadFile(errf.Name())
	var exit *exec.ExitError
	instant = errors.As(err, &exit) && took < instantExit && len(o) == 0 && len(e) == 0
	return string(o), string(e), err, instant
}

// RunInConsole runs cmdline (a Windows command line) the way cmd.exe runs a
// GUI-subsystem program typed into a console window: in a console of its
// own, with no standard handles passed to it. It waits at most timeout and
// returns what the console shows then. Wine draws the console in a window,
// so the prefix needs a display (New's display).
func (w *Wine) RunInConsole(t testing.TB, timeout time.Duration, cmdline string) (string, error) {
	t.Helper()
	w.noconsole.once.Do(func() {
		src := filepath.Join(w.tmp, "noconsole.c")
		w.noconsole.exe = filepath.Join(w.tmp, "noconsole.exe")
		if w.noconsole.err = os.WriteFile(src, noconsoleSource, 0o644); w.noconsole.err != nil {
			return
		}
		if out, err := exec.Command(Mingw, "-O2", "-o", w.noconsole.exe, src).CombinedOutput(); err != nil {
			w.noconsole.err = fmt.Errorf("build noconsole.exe: %v\n%s", err, out)
		}
	})
	if w.noconsole.err != nil {
		return "", w.noconsole.err
	}
	f, err := os.CreateTemp(w.tmp, "console-*.txt")
	if err != nil {
		return "", err
	}
	f.Close()
	defer os.Remove(f.Name())
	if out, errOut, err := w.run(timeout, w.noconsole.exe, Path(f.Name()), cmdline); err != nil {
		return "", fmt.Errorf("noconsole.exe %s: %w: %s %s", cmdline, err, out, errOut)
	}
	screen, err := os.ReadFile(f.Name())
	return string(screen), err
}

// Wait waits, at most timeout, until every process of the prefix has ended
// (wineserver -w).
func (w *Wine) Wait(t testing.TB, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.serv, "-w")
	cmd.Env = w.Env()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wineserver -w: %v\n%s", err, out)
	}
}

// Kill ends every process of the prefix and its wineserver (wineserver -k),
// waiting at most 30 s.
func (w *Wine) Kill(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.serv, "-k")
	cmd.Env = w.Env()
	cmd.Run() // fails when no wineserver runs: nothing to kill
	cmd = exec.CommandContext(ctx, w.serv, "-w")
	cmd.Env = w.Env()
	cmd.Run()
}

// Path is the Windows path of a Unix path (through Wine's Z: drive).
func Path(unix string) string {
	abs, err := filepath.Abs(unix)
	if err != nil {
		abs = unix
	}
	return `Z:` + strings.ReplaceAll(abs, "/", `\`)
}

// UserDir is the Unix path of the prefix user's profile folder
// (C:\users\NAME), where %APPDATA% and %LOCALAPPDATA% are.
func (w *Wine) UserDir(t testing.TB) string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(w.Prefix, "drive_c", "users", "*", "AppData"))
	for _, m := range matches {
		if filepath.Base(filepath.Dir(m)) != "Public" {
			return filepath.Dir(m)
		}
	}
	t.Fatalf("no user profile in %s", w.Prefix)
	return ""
}

var builds sync.Map // key -> *build

type build struct {
	once sync.Once
	path string
	err  error
}

// Build cross-builds the Go package pkg for windows/amd64 with cgo through
// mingw, as scripts/package does: with gui, for the GUI subsystem
// (-H=windowsgui). It builds each kind once per test process, into a
// directory removed by Cleanup, and returns the .exe's path.
func Build(t testing.TB, pkg string, gui bool) string {
	t.Helper()
	return buildExe(t, pkg, gui, true)
}

// BuildNoCgo cross-builds pkg for windows/amd64 without cgo (the relay), once
// per test process, and returns the .exe's path.
func BuildNoCgo(t testing.TB, pkg string) string {
	t.Helper()
	return buildExe(t, pkg, false, false)
}

func buildExe(t testing.TB, pkg string, gui, cgo bool) string {
	t.Helper()
	find(t)
	key := fmt.Sprintf("%s gui=%v cgo=%v", pkg, gui, cgo)
	v, _ := builds.LoadOrStore(key, &build{})
	b := v.(*build)
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "tether-winbuild")
		if err != nil {
			b.err = err
			return
		}
		name := strings.TrimSuffix(filepath.Base(pkg), "/")
		if name == "." {
			wd, _ := os.Getwd()
			name = filepath.Base(wd)
		}
		b.path = filepath.Join(dir, name+".exe")
		ldflags := "-X main.version=wine-test"
		if gui {
			ldflags += " -H=windowsgui"
		}
		cmd := exec.Command("go", "build", "-ldflags", ldflags, "-o", b.path, pkg)
		cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
		if cgo {
			cmd.Env = append(cmd.Env, "CGO_ENABLED=1", "CC="+Mingw)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s for windows: %v\n%s", key, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// Cleanup removes what Build made (a later Build builds again); call it
// when the tests that use the builds are done.
func Cleanup() {
	builds.Range(func(k, v any) bool {
		if p := v.(*build).path; p != "" {
			os.RemoveAll(filepath.Dir(p))
		}
		builds.Delete(k)
		return true
	})
}
