package agent

import (
	"runtime"
	"sync"

	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/agent/telemetry"
	"github.com/tether-desktop/tether/protocol"
)

// describer builds what the agent says about itself from the settings in
// force: the hello and the settings' part of the status. Its fields but
// the last answer of the desktop are fixed by New; safe for concurrent use.
type describer struct {
	disp     *commands.Dispatcher
	screen   ScreenReporter // nil: no screen announced
	avail    Availability   // nil: the desktop caches nothing and tells of no change
	name     string         // Config.Name: wins over the settings' name
	hostname string
	version  string

	mu          sync.Mutex
	asked       bool              // the desktop was asked what it lacks
	unavailable map[string]string // its last answer
}

// displayName is the device's name: Config.Name, the settings' name, the
// host name.
func (d *describer) displayName(s Settings) string {
	switch {
	case d.name != "":
		return d.name
	case s.Name != "":
		return s.Name
	case d.hostname != "":
		return d.hostname
	}
	return "desktop"
}

// hello describes the device as it is now. The dispatcher reads the
// settings in force through its own callbacks; s gives the rest. The
// desktop is asked again what it lacks when ask is set (or never was):
// some of its checks start a program, so a hello rebuilt for nothing new
// reuses the last answer.
func (d *describer) hello(s Settings, ask bool) protocol.Hello {
	specs := d.disp.Specs()
	if specs == nil {
		specs = []protocol.CommandSpec{}
	}
	h := protocol.Hello{
		Name:     d.displayName(s),
		OS:       runtime.GOOS,
		Arch:     runtime.GOARCH,
		Hostname: d.hostname,
		Version:  d.version,
		Commands: specs,
		Paused:   s.Paused,
	}
	d.mu.Lock()
	if ask || !d.asked {
		d.unavailable, d.asked = d.disp.Unavailable(), true
	}
	if len(d.unavailable) > 0 {
		h.Unavailable = d.unavailable
	}
	d.mu.Unlock()
	if d.screen != nil {
		h.Screen = d.screen.Screen()
	}
	return h
}

// fillStatus copies what the settings s decide into st.
func (d *describer) fillStatus(st *Status, s Settings) {
	on := map[string]bool{}
	for _, n := range d.disp.Names() {
		on[n] = s.Allowed(n, d.disp.DefaultOn(n))
	}
	st.Allowed = sortedTrue(on)
	st.Paused = s.Paused
	st.Mouse = s.Mouse
	st.WindowTitle = s.Allowed(telemetry.WindowTitle, false)
	st.Name = s.Name
	if d.name != "" {
		st.Name = d.name
	} else if st.Name == "" {
		st.Name = d.hostname
	}
}
