package commands

import (
	"context"
	"encoding/json"
	"errors"
	"image"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

// fakeDesktop is the Desktop and Controller seam: it records calls and
// answers as told. Its screen is 1280×800 and captures a 64×40 image.
type fakeDesktop struct {
	mu          sync.Mutex
	calls       []string
	err         error
	unavailable map[string]string
	asked       int // calls of Unavailable
}

func (f *fakeDesktop) record(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	return f.err
}

func (f *fakeDesktop) ScreenSize() (int, int, error) { return 1280, 800, nil }

func (f *fakeDesktop) Capture(ctx context.Context) (image.Image, error) {
	if err := f.record("capture"); err != nil {
		return nil, err
	}
	img := image.NewRGBA(image.Rect(0, 0, 64, 40))
	for i := 0; i < len(img.Pix); i += 4 {
		copy(img.Pix[i:], []byte{0x33, 0x66, 0x99, 0xff})
	}
	return img, nil
}

func (f *fakeDesktop) MoveMouse(ctx context.Context, x, y int) error {
	return f.record("move " + itoa(x) + "," + itoa(y))
}

func (f *fakeDesktop) Click(ctx context.Context, button string) error {
	return f.record("click " + button)
}

func (f *fakeDesktop) TypeText(ctx context.Context, text string) error {
	return f.record("type " + text)
}

func (f *fakeDesktop) OpenURL(ctx context.Context, u string) error {
	return f.record("open " + u)
}

func (f *fakeDesktop) Beep(ctx context.Context, hz int, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "beep "+itoa(hz)+"Hz "+d.String())
	return f.err
}

func (f *fakeDesktop) Notify(ctx context.Context, title, body string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "notify "+title+"|"+body)
	return f.err
}

func (f *fakeDesktop) Unavailable() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked++
	return f.unavailable
}

func (f *fakeDesktop) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// setup returns a dispatcher over the builtin commands with everything
// allowed, and switches to change that.
type setup struct {
	desk   *fakeDesktop
	d      *Dispatcher
	off    map[string]bool
	paused bool
	mu     sync.Mutex
}

func newSetup(cmds func(Desktop) []Command) *setup {
	s := &setup{desk: &fakeDesktop{}, off: map[string]bool{}}
	s.d = NewDispatcher(cmds(s.desk),
		func(name string) bool { s.mu.Lock(); defer s.mu.Unlock(); return !s.off[name] },
		func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.paused })
	return s
}

func TestRun(t *testing.T) {
	long := func(r string, n int) string { return strings.Repeat(r, n) }
	for _, tc := range []struct {
		name      string
		cmd       string
		args      string
		off       string            // a command switched off
		paused    bool              // remote control paused
		unavail   map[string]string // what the desktop lacks
		deskErr   error             // what the desktop returns
		wantCode  string            // "" for success
		wantMsg   string            // substring of the error message
		wantCalls []string
	}{
		{name: "unknown command", cmd: "format_disk", wantCode: "unknown_command", wantMsg: `unknown command "format_disk"`},
		{name: "names outside the contract are unknown", cmd: "reboot", wantCode: "unknown_command"},
		{name: "switched off", cmd: "beep", off: "beep", wantCode: "not_allowed", wantMsg: `command "beep" is switched off on this computer`},
		{name: "switched off wins over paused", cmd: "beep", off: "beep", paused: true, wantCode: "not_allowed"},
		{name: "paused", cmd: "beep", paused: true, wantCode: "paused"},
		{name: "paused wins over bad args", cmd: "beep", args: `{"frequency_hz":1}`, paused: true, wantCode: "paused"},
		{name: "bad args win over unavailable", cmd: "beep", args: `{"frequency_hz":1}`, unavail: map[string]string{"beep": "no sound device"}, wantCode: "invalid_args"},
		{name: "unavailable", cmd: "beep", unavail: map[string]string{"beep": "no sound device: oto: ALSA error"}, wantCode: "unavailable", wantMsg: "no sound device: oto: ALSA error"},
		{name: "unavailable elsewhere does not matter", cmd: "beep", unavail: map[string]string{"notify": "no session bus"}, wantCalls: []string{"beep 880Hz 200ms"}},
		{name: "desktop says unavailable", cmd: "beep", deskErr: protocol.Errorf("unavailable", "speaker gone"), wantCode: "unavailable", wantMsg: "speaker gone", wantCalls: []string{"beep 880Hz 200ms"}},
		{name: "desktop fails", cmd: "notify", args: `{"title":"t"}`, deskErr: errors.New("dbus: broken pipe"), wantCode: "internal", wantMsg: "broken pipe", wantCalls: []string{"notify t|"}},

		{name: "beep defaults", cmd: "beep", wantCalls: []string{"beep 880Hz 200ms"}},
		{name: "beep null args", cmd: "beep", args: `null`, wantCalls: []string{"beep 880Hz 200ms"}},
		{name: "beep lowest", cmd: "beep", args: `{"frequency_hz":100,"duration_ms":20}`, wantCalls: []string{"beep 100Hz 20ms"}},
		{name: "beep highest", cmd: "beep", args: `{"frequency_hz":4000,"duration_ms":3000}`, wantCalls: []string{"beep 4000Hz 3s"}},
		{name: "beep whole float", cmd: "beep", args: `{"frequency_hz":440.0}`, wantCalls: []string{"beep 440Hz 200ms"}},
		{name: "frequency just below", cmd: "beep", args: `{"frequency_hz":99}`, wantCode: "invalid_args", wantMsg: "at least 100"},
		{name: "frequency just above", cmd: "beep", args: `{"frequency_hz":4001}`, wantCode: "invalid_args", wantMsg: "at most 4000"},
		{name: "frequency fractional", cmd: "beep", args: `{"frequency_hz":440.5}`, wantCode: "invalid_args"},
		{name: "frequency as string", cmd: "beep", args: `{"frequency_hz":"880"}`, wantCode: "invalid_args"},
		{name: "duration just below", cmd: "beep", args: `{"duration_ms":19}`, wantCode: "invalid_args"},
		{name: "duration just above", cmd: "beep", args: `{"duration_ms":3001}`, wantCode: "invalid_args"},
		{name: "unknown argument", cmd: "beep", args: `{"volume":11}`, wantCode: "invalid_args", wantMsg: `unknown argument "volume"`},
		{name: "args not an object", cmd: "beep", args: `[1]`, wantCode: "invalid_args"},

		{name: "notify", cmd: "notify", args: `{"title":"Hi","body":"line 1\nline 2\ttab"}`, wantCalls: []string{"notify Hi|line 1\nline 2\ttab"}},
		{name: "notify longest", cmd: "notify", args: `{"title":"` + long("é", 100) + `","body":"` + long("ß", 1000) + `"}`, wantCalls: []string{"notify " + long("é", 100) + "|" + long("ß", 1000)}},
		{name: "notify markup stays text", cmd: "notify", args: `{"title":"<b>x</b>","body":"a & b"}`, wantCalls: []string{"notify <b>x</b>|a & b"}},
		{name: "title missing", cmd: "notify", args: `{"body":"b"}`, wantCode: "invalid_args", wantMsg: "required"},
		{name: "title null", cmd: "notify", args: `{"title":null}`, wantCode: "invalid_args", wantMsg: "required"},
		{name: "title empty", cmd: "notify", args: `{"title":"  "}`, wantCode: "invalid_args", wantMsg: "must not be empty"},
		{name: "title just too long", cmd: "notify", args: `{"title":"` + long("é", 101) + `"}`, wantCode: "invalid_args"},
		{name: "body just too long", cmd: "notify", args: `{"title":"t","body":"` + long("a", 1001) + `"}`, wantCode: "invalid_args"},
		{name: "control characters", cmd: "notify", args: `{"title":"a\u001b[31m"}`, wantCode: "invalid_args", wantMsg: "control characters"},
		{name: "title a number", cmd: "notify", args: `{"title":5}`, wantCode: "invalid_args"},

		{name: "mouse_move", cmd: "mouse_move", args: `{"x":200,"y":300}`, wantCalls: []string{"move 200,300"}},
		{name: "mouse_move corners", cmd: "mouse_move", args: `{"x":1279,"y":799}`, wantCalls: []string{"move 1279,799"}},
		{name: "mouse_move outside the screen", cmd: "mouse_move", args: `{"x":1280,"y":10}`, wantCode: "invalid_args", wantMsg: "outside the screen 1280×800"},
		{name: "mouse_move below the screen", cmd: "mouse_move", args: `{"x":0,"y":800}`, wantCode: "invalid_args", wantMsg: "outside the screen 1280×800"},
		{name: "mouse_move negative", cmd: "mouse_move", args: `{"x":-1,"y":10}`, wantCode: "invalid_args", wantMsg: "at least 0"},
		{name: "mouse_move needs y", cmd: "mouse_move", args: `{"x":1}`, wantCode: "invalid_args", wantMsg: "required"},
		{name: "mouse_move fraction", cmd: "mouse_move", args: `{"x":1.5,"y":1}`, wantCode: "invalid_args"},
		{name: "mouse_move unavailable", cmd: "mouse_move", args: `{"x":1,"y":1}`, unavail: map[string]string{"mouse_move": "no X display (DISPLAY is not set)"}, wantCode: "unavailable", wantMsg: "DISPLAY is not set"},
		{name: "mouse_click default", cmd: "mouse_click", wantCalls: []string{"click left"}},
		{name: "mouse_click right at", cmd: "mouse_click", args: `{"button":"right","x":5,"y":6}`, wantCalls: []string{"move 5,6", "click right"}},
		{name: "mouse_click middle", cmd: "mouse_click", args: `{"button":"middle"}`, wantCalls: []string{"click middle"}},
		{name: "mouse_click unknown button", cmd: "mouse_click", args: `{"button":"fourth"}`, wantCode: "invalid_args", wantMsg: "one of left, right, middle"},
		{name: "mouse_click x without y", cmd: "mouse_click", args: `{"x":5}`, wantCode: "invalid_args", wantMsg: "both x and y"},
		{name: "mouse_click outside", cmd: "mouse_click", args: `{"x":5,"y":900}`, wantCode: "invalid_args", wantMsg: "outside the screen 1280×800"},
		{name: "type_text", cmd: "type_text", args: `{"text":"Hi!\n\té"}`, wantCalls: []string{"type Hi!\n\té"}},
		{name: "type_text longest", cmd: "type_text", args: `{"text":"` + long("ж", 1000) + `"}`, wantCalls: []string{"type " + long("ж", 1000)}},
		{name: "type_text too long", cmd: "type_text", args: `{"text":"` + long("a", 1001) + `"}`, wantCode: "invalid_args"},
		{name: "type_text escape key", cmd: "type_text", args: `{"text":"a\u001b:q!"}`, wantCode: "invalid_args", wantMsg: "control characters"},
		{name: "type_text carriage return", cmd: "type_text", args: `{"text":"a\rb"}`, wantCode: "invalid_args", wantMsg: "control characters"},
		{name: "open_url", cmd: "open_url", args: `{"url":"https://example.com/a?b=c d"}`, wantCalls: []string{"open https://example.com/a?b=c d"}},
		{name: "open_url http", cmd: "open_url", args: `{"url":"HTTP://example.com"}`, wantCalls: []string{"open HTTP://example.com"}},
		{name: "open_url javascript", cmd: "open_url", args: `{"url":"javascript:alert(1)"}`, wantCode: "invalid_args"},
		{name: "open_url file", cmd: "open_url", args: `{"url":"file:///etc/passwd"}`, wantCode: "invalid_args"},
		{name: "open_url no host", cmd: "open_url", args: `{"url":"http:///x"}`, wantCode: "invalid_args"},
		{name: "open_url option-like", cmd: "open_url", args: `{"url":"--help"}`, wantCode: "invalid_args"},
		{name: "open_url too long", cmd: "open_url", args: `{"url":"https://e.com/` + long("a", 2048) + `"}`, wantCode: "invalid_args"},
		{name: "screenshot", cmd: "screenshot", wantCalls: []string{"capture"}},
		{name: "screenshot jpeg scaled", cmd: "screenshot", args: `{"format":"jpeg","max_width":16}`, wantCalls: []string{"capture"}},
		{name: "screenshot gif", cmd: "screenshot", args: `{"format":"gif"}`, wantCode: "invalid_args"},
		{name: "screenshot too narrow", cmd: "screenshot", args: `{"max_width":15}`, wantCode: "invalid_args"},
		{name: "screenshot too wide", cmd: "screenshot", args: `{"max_width":7681}`, wantCode: "invalid_args"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSetup(Builtin)
			if tc.off != "" {
				s.off[tc.off] = true
			}
			s.paused = tc.paused
			s.desk.unavailable = tc.unavail
			s.desk.err = tc.deskErr
			_, perr := s.d.Run(context.Background(), tc.cmd, json.RawMessage(tc.args))
			switch {
			case tc.wantCode == "" && perr != nil:
				t.Fatalf("Run = %v, want success", perr)
			case tc.wantCode != "" && perr == nil:
				t.Fatalf("Run succeeded, want %s", tc.wantCode)
			case perr != nil && perr.Code != tc.wantCode:
				t.Fatalf("Run = %v, want code %s", perr, tc.wantCode)
			case perr != nil && !strings.Contains(perr.Message, tc.wantMsg):
				t.Fatalf("Run message %q, want it to contain %q", perr.Message, tc.wantMsg)
			}
			if got := s.desk.Calls(); strings.Join(got, "\n") != strings.Join(tc.wantCalls, "\n") {
				t.Errorf("desktop calls %q, want %q", got, tc.wantCalls)
			}
		})
	}
}

// TestHandlersCheckAgain calls the handlers with arguments the spec would
// have refused: the second check must stop them before the desktop.
func TestHandlersCheckAgain(t *testing.T) {
	desk := &fakeDesktop{}
	cmds := map[string]Command{}
	for _, c := range Builtin(desk) {
		cmds[c.Spec.Name] = c
	}
	for _, tc := range []struct {
		name string
		cmd  string
		args map[string]any
	}{
		{"frequency below", "beep", map[string]any{"frequency_hz": int64(99), "duration_ms": int64(200)}},
		{"frequency above", "beep", map[string]any{"frequency_hz": int64(4001), "duration_ms": int64(200)}},
		{"duration below", "beep", map[string]any{"frequency_hz": int64(880), "duration_ms": int64(19)}},
		{"duration above", "beep", map[string]any{"frequency_hz": int64(880), "duration_ms": int64(3001)}},
		{"frequency wrong type", "beep", map[string]any{"frequency_hz": 880.0, "duration_ms": int64(200)}},
		{"frequency missing", "beep", map[string]any{"duration_ms": int64(200)}},
		{"title missing", "notify", map[string]any{}},
		{"title too long", "notify", map[string]any{"title": strings.Repeat("x", 101)}},
		{"body too long", "notify", map[string]any{"title": "t", "body": strings.Repeat("x", 1001)}},
		{"body control", "notify", map[string]any{"title": "t", "body": "\x07"}},
		{"body wrong type", "notify", map[string]any{"title": "t", "body": 3}},
		{"x too large", "mouse_move", map[string]any{"x": int64(MaxCoordinate + 1), "y": int64(1)}},
		{"x wrong type", "mouse_move", map[string]any{"x": 1.0, "y": int64(1)}},
		{"button unknown", "mouse_click", map[string]any{"button": "fourth"}},
		{"text control", "type_text", map[string]any{"text": "\x1b"}},
		{"text too long", "type_text", map[string]any{"text": strings.Repeat("x", TypeTextMax+1)}},
		{"url javascript", "open_url", map[string]any{"url": "javascript:alert(1)"}},
		{"url file", "open_url", map[string]any{"url": "file:///etc/passwd"}},
		{"url option", "open_url", map[string]any{"url": "-x"}},
		{"format gif", "screenshot", map[string]any{"format": "gif"}},
		{"max_width small", "screenshot", map[string]any{"format": "png", "max_width": int64(1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cmds[tc.cmd].Run(context.Background(), tc.args)
			var perr *protocol.Error
			if !errors.As(err, &perr) || perr.Code != protocol.CodeInvalidArgs {
				t.Fatalf("handler = %v, want invalid_args", err)
			}
		})
	}
	if c := desk.Calls(); len(c) != 0 {
		t.Errorf("desktop was called: %q", c)
	}
}

func TestBuiltinSpecs(t *testing.T) {
	got, err := json.Marshal(NewDispatcher(Builtin(&fakeDesktop{}), func(string) bool { return true }, func() bool { return false }).Specs())
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"name":"beep","title":"Beep","description":"Plays a tone on the computer’s speaker.","args":[` +
		`{"name":"frequency_hz","type":"integer","min":100,"max":4000,"default":880},` +
		`{"name":"duration_ms","type":"integer","min":20,"max":3000,"default":200}]},` +
		`{"name":"notify","title":"Notify","description":"Shows a notification on the computer’s screen.","args":[` +
		`{"name":"title","type":"string","required":true,"max_len":100},` +
		`{"name":"body","type":"string","max_len":1000}]}]`
	want = `[{"name":"beep","title":"Beep","description":"Plays a tone on the computer’s speaker.","args":[` +
		`{"name":"frequency_hz","type":"integer","min":100,"max":4000,"default":880},` +
		`{"name":"duration_ms","type":"integer","min":20,"max":3000,"default":200}]},` +
		`{"name":"clipboard_get","title":"Read clipboard","description":"Returns the text on the computer’s clipboard.","args":[]},` +
		`{"name":"clipboard_set","title":"Write clipboard","description":"Puts text on the computer’s clipboard.","args":[{"name":"text","type":"string","required":true,"max_len":16384}]},` +
		`{"name":"lock_screen","title":"Lock screen","description":"Locks the computer’s session now.","args":[]},` +
		`{"name":"media","title":"Media","description":"Play/pause, next or previous in the media player.","args":[{"name":"action","type":"string","required":true,"enum":["play_pause","play","pause","next","previous","stop"]}]},` +
		`{"name":"mouse_click","title":"Click","description":"Clicks a mouse button; at a point on the screen when x and y are given.","args":[` +
		`{"name":"button","type":"string","enum":["left","right","middle"],"default":"left"},` +
		`{"name":"x","type":"integer","min":0,"max":32767},{"name":"y","type":"integer","min":0,"max":32767}]},` +
		`{"name":"mouse_move","title":"Move pointer","description":"Moves the pointer to a point on the screen.","args":[` +
		`{"name":"x","type":"integer","required":true,"min":0,"max":32767},{"name":"y","type":"integer","required":true,"min":0,"max":32767}]},` +
		`{"name":"notify","title":"Notify","description":"Shows a notification on the computer’s screen.","args":[` +
		`{"name":"title","type":"string","required":true,"max_len":100},` +
		`{"name":"body","type":"string","max_len":1000}]},` +
		`{"name":"open_url","title":"Open link","description":"Opens a web link in the computer’s browser.","args":[{"name":"url","type":"url","required":true,"max_len":2048,"schemes":["http","https"]}]},` +
		`{"name":"receive_files","title":"Send photo or file","description":"Files sent from the page are saved in the Downloads folder, under Tether","args":[` +
		`{"name":"name","type":"string","required":true,"max_len":255},{"name":"size","type":"integer","required":true,"min":0,"max":104857600},{"name":"mime","type":"string","max_len":127}]},` +
		`{"name":"screenshot","title":"Screenshot","description":"Takes a picture of the computer’s screen.","args":[` +
		`{"name":"format","type":"string","enum":["png","jpeg"],"default":"png"},{"name":"max_width","type":"integer","min":16,"max":7680}]},` +
		`{"name":"sleep","title":"Sleep","description":"Puts the computer to sleep (suspend to RAM).","args":[]},` +
		`{"name":"type_text","title":"Type text","description":"Types the text into the window that has the keyboard focus.","args":[{"name":"text","type":"string","required":true,"max_len":1000}]},` +
		`{"name":"volume","title":"Volume","description":"Sets the output volume (0–100) or mutes it; with no argument, reads it.","args":[{"name":"level","type":"integer","min":0,"max":100},{"name":"mute","type":"boolean"}]}]`
	if string(got) != want {
		t.Errorf("specs\n got %s\nwant %s", got, want)
	}
	for _, c := range Builtin(&fakeDesktop{}) {
		defaultOn := map[string]bool{"beep": true, "notify": true, "lock_screen": true, "volume": true, "media": true, "receive_files": true}[c.Spec.Name]
		if c.DefaultOn != defaultOn || c.Rate <= 0 || c.Burst < 1 || c.Timeout <= 0 || c.Run == nil || c.Unavailable == nil {
			t.Errorf("%s: incomplete command %+v (on by default: %v, want %v)", c.Spec.Name, c, c.DefaultOn, defaultOn)
		}
	}
}

func TestBuiltinWithoutController(t *testing.T) {
	var d Desktop = &struct{ Desktop }{&fakeDesktop{}}
	if _, ok := d.(Controller); ok {
		t.Fatal("the wrapped desktop is a Controller")
	}
	if _, ok := d.(Session); ok {
		t.Fatal("the wrapped desktop is a Session")
	}
	disp := NewDispatcher(Builtin(d), func(string) bool { return true }, func() bool { return false })
	if got := strings.Join(disp.Names(), ","); got != allBuiltins {
		t.Errorf("Names = %s", got)
	}
	u := disp.Unavailable()
	for name, args := range map[string]string{
		"mouse_click": `{}`, "mouse_move": `{"x":1,"y":1}`, "open_url": `{"url":"http://a.b"}`,
		"screenshot": `{}`, "type_text": `{"text":"a"}`,
	} {
		if u[name] != noController {
			t.Errorf("Unavailable()[%s] = %q, want %q", name, u[name], noController)
		}
		if _, perr := disp.Run(context.Background(), name, json.RawMessage(args)); perr == nil || perr.Code != protocol.CodeUnavailable {
			t.Errorf("Run(%s) = %v, want unavailable", name, perr)
		}
	}
	for name, args := range map[string]string{
		"lock_screen": `{}`, "sleep": `{}`, "volume": `{}`, "media": `{"action":"next"}`,
		"clipboard_get": `{}`, "clipboard_set": `{"text":"a"}`,
	} {
		if u[name] != noSession {
			t.Errorf("Unavailable()[%s] = %q, want %q", name, u[name], noSession)
		}
		if _, perr := disp.Run(context.Background(), name, json.RawMessage(args)); perr == nil || perr.Code != protocol.CodeUnavailable {
			t.Errorf("Run(%s) = %v, want unavailable", name, perr)
		}
	}
	if _, ok := u["beep"]; ok {
		t.Errorf("beep unavailable without a Controller: %v", u)
	}
}

// allBuiltins are the names of the built-in commands, sorted.
const allBuiltins = "beep,clipboard_get,clipboard_set,lock_screen,media,mouse_click,mouse_move,notify,open_url,receive_files,screenshot,sleep,type_text,volume"

func TestDispatcherLists(t *testing.T) {
	s := newSetup(Builtin)
	s.off["notify"] = true
	s.desk.unavailable = map[string]string{"beep": "no sound", "notify": "no bus"}
	for _, n := range []string{"mouse_click", "mouse_move", "open_url", "screenshot", "type_text",
		"lock_screen", "sleep", "volume", "media", "clipboard_get", "clipboard_set", "receive_files"} {
		s.off[n] = true
	}
	if got := strings.Join(s.d.Names(), ","); got != allBuiltins {
		t.Errorf("Names = %s", got)
	}
	if !s.d.Known("notify") || !s.d.Known("screenshot") || s.d.Known("reboot") {
		t.Error("Known is wrong")
	}
	if !s.d.DefaultOn("beep") || s.d.DefaultOn("screenshot") {
		t.Error("DefaultOn is wrong")
	}
	specs := s.d.Specs()
	if len(specs) != 1 || specs[0].Name != "beep" {
		t.Errorf("Specs with notify off = %+v, want only beep", specs)
	}
	if got := s.d.Unavailable(); len(got) != 1 || got["beep"] != "no sound" {
		t.Errorf("Unavailable = %v, want only beep (notify is off)", got)
	}
}

func TestRateLimit(t *testing.T) {
	s := newSetup(Builtin)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.d.now = func() time.Time { return now }
	run := func() string {
		_, perr := s.d.Run(context.Background(), "beep", nil)
		if perr != nil {
			return perr.Code
		}
		return "ok"
	}
	// beep: burst 3, one more each second.
	for i, want := range []string{"ok", "ok", "ok", "rate_limited", "rate_limited"} {
		if got := run(); got != want {
			t.Fatalf("call %d: %s, want %s", i, got, want)
		}
	}
	if _, perr := s.d.Run(context.Background(), "notify", json.RawMessage(`{"title":"t"}`)); perr != nil {
		t.Errorf("notify has a bucket of its own, got %v", perr)
	}
	now = now.Add(999 * time.Millisecond)
	if got := run(); got != "rate_limited" {
		t.Errorf("after 0.999 s: %s, want rate_limited", got)
	}
	now = now.Add(time.Millisecond)
	if got := run(); got != "ok" {
		t.Errorf("after 1 s: %s, want ok", got)
	}
	now = now.Add(time.Hour)
	for i, want := range []string{"ok", "ok", "ok", "rate_limited"} {
		if got := run(); got != want {
			t.Fatalf("after an hour, call %d: %s, want %s (burst caps the refill)", i, got, want)
		}
	}
	// Refusals before the rate check do not spend tokens.
	now = now.Add(time.Hour)
	s.desk.unavailable = map[string]string{"beep": "gone"}
	for range 5 {
		run()
	}
	s.desk.unavailable = nil
	if got := run(); got != "ok" {
		t.Errorf("after refused calls: %s, want ok", got)
	}
}

func TestTimeoutsPanicsAndCancel(t *testing.T) {
	release := make(chan struct{})
	cmd := func(name string, timeout time.Duration, h Handler) Command {
		return Command{Spec: protocol.CommandSpec{Name: name}, Timeout: timeout, Run: h}
	}
	cmds := func(Desktop) []Command {
		return []Command{
			cmd("waits_for_ctx", 50*time.Millisecond, func(ctx context.Context, _ map[string]any) (json.RawMessage, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			}),
			cmd("ignores_ctx", 50*time.Millisecond, func(ctx context.Context, _ map[string]any) (json.RawMessage, error) {
				<-release
				return nil, nil
			}),
			cmd("panics", time.Minute, func(ctx context.Context, _ map[string]any) (json.RawMessage, error) {
				var m map[string]int
				m["x"] = 1
				return nil, nil
			}),
			cmd("answers", time.Minute, func(ctx context.Context, _ map[string]any) (json.RawMessage, error) {
				return json.RawMessage(`{"n":1}`), nil
			}),
			cmd("no_handler", time.Minute, nil),
			cmd("default_timeout", 0, func(ctx context.Context, _ map[string]any) (json.RawMessage, error) {
				dl, ok := ctx.Deadline()
				if !ok || time.Until(dl) < DefaultTimeout/2 {
					return nil, errors.New("no sensible default deadline")
				}
				return nil, nil
			}),
		}
	}
	s := newSetup(cmds)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	for _, tc := range []struct {
		name, cmd string
		ctx       context.Context
		wantCode  string
	}{
		{"handler honours its timeout", "waits_for_ctx", context.Background(), "timeout"},
		{"handler ignores its timeout", "ignores_ctx", context.Background(), "timeout"},
		{"panic becomes internal", "panics", context.Background(), "internal"},
		{"data comes back", "answers", context.Background(), ""},
		{"no handler", "no_handler", context.Background(), "internal"},
		{"zero timeout means the default", "default_timeout", context.Background(), ""},
		{"agent stopping", "waits_for_ctx", cancelled, "unavailable"},
		{"caller's deadline passed", "waits_for_ctx", expired, "timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, perr := s.d.Run(tc.ctx, tc.cmd, nil)
			switch {
			case tc.wantCode == "" && perr != nil:
				t.Fatalf("Run = %v, want success", perr)
			case tc.wantCode != "" && (perr == nil || perr.Code != tc.wantCode):
				t.Fatalf("Run = %v, want %s", perr, tc.wantCode)
			case tc.cmd == "answers" && string(data) != `{"n":1}`:
				t.Errorf("data = %s", data)
			}
		})
	}
	waited := make(chan struct{})
	go func() { s.d.Wait(); close(waited) }()
	select {
	case <-waited:
		t.Fatal("Wait returned while a handler was still running")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	select {
	case <-waited:
	case <-time.After(10 * time.Second): // hang guard only
		t.Fatal("Wait did not return after the handler finished")
	}
}

func TestTruncateKeepsRunes(t *testing.T) {
	got := truncate(strings.Repeat("é", 10), 5)
	if got != "éé…" {
		t.Errorf("truncate = %q", got)
	}
}

// TestBuiltinsAreTheKnownCommands ties the built-in commands to the
// protocol's names: every built-in has a name in protocol.KnownCommands, and
// every known name is built in (with and without a Controller).
func TestBuiltinsAreTheKnownCommands(t *testing.T) {
	for _, tc := range []struct {
		name string
		desk Desktop
	}{
		{"controller", &fakeDesktop{}},
		{"sound and notifications only", struct{ Desktop }{&fakeDesktop{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var names []string
			for _, c := range Builtin(tc.desk) {
				if !protocol.IsKnownCommand(c.Spec.Name) {
					t.Errorf("built-in %q is not in protocol.KnownCommands", c.Spec.Name)
				}
				names = append(names, c.Spec.Name)
			}
			for _, k := range protocol.KnownCommands {
				if !slices.Contains(names, k) {
					t.Errorf("protocol.KnownCommands names %q, which is not built in", k)
				}
			}
		})
	}
}

// TestOneDesktopAnswerPerRound: the dispatcher's list of what cannot run
// (rebuilt with the hello every few seconds while somebody watches) asks
// the desktop once, however many commands depend on it (its checks look up
// files and start programs); the next list, or a command asked again,
// asks it anew and sees what changed.
func TestOneDesktopAnswerPerRound(t *testing.T) {
	s := newSetup(Builtin)
	s.desk.unavailable = map[string]string{"beep": "no sound", "notify": "no bus"}
	got := s.d.Unavailable()
	if got["beep"] != "no sound" || got["notify"] != "no bus" {
		t.Fatalf("Unavailable() = %v", got)
	}
	s.desk.mu.Lock()
	n := s.desk.asked
	s.desk.asked = 0
	s.desk.unavailable = map[string]string{"notify": "no bus"}
	s.desk.mu.Unlock()
	if n != 1 {
		t.Errorf("one list of what cannot run asked the desktop %d times", n)
	}
	if got := s.d.Unavailable(); got["beep"] != "" || got["notify"] != "no bus" {
		t.Errorf("the next list = %v, want the desktop's new answer", got)
	}
	s.desk.mu.Lock()
	s.desk.unavailable = nil
	s.desk.mu.Unlock()
	if _, err := s.d.Run(context.Background(), "notify", json.RawMessage(`{"title":"t","body":"b"}`)); err != nil {
		t.Errorf("notify after the desktop gained it: %v", err)
	}
}
