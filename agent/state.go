package agent

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

// state is the agent's one record of what the owner wants (Settings), what
// the agent announces (the hello) and how it is doing (Status). Whoever
// changes it wakes everyone waiting on changes(): the link's pump and mouse
// loop, the status.json writer. Safe for concurrent use; no method blocks
// on anything but the state's own lock.
type state struct {
	mu        sync.Mutex
	settings  Settings
	status    Status
	helloData json.RawMessage // the hello as it would be sent now
	seq       uint64          // version of status, bumped by every update
	jumps     uint64          // times the kernel said the wall clock jumped (set, or a wake from sleep)
	changed   chan struct{}   // closed (and replaced) at the next change

	busy      int        // commands, transfers and notices under way (begin, end)
	onQuiet   func(bool) // Config.Quiet; nil: nobody is told
	toldQuiet bool       // onQuiet was called at least once
	quiet     bool       // what onQuiet was last told
}

func newState(s Settings, st Status) *state {
	return &state{settings: s, status: st, changed: make(chan struct{})}
}

// changes returns a channel closed at the next change. Take it before
// reading what it guards, so that no change falls between the two.
func (s *state) changes() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// broadcastLocked wakes every waiter. mu held.
func (s *state) broadcastLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// update changes the status with f and stamps it.
func (s *state) update(f func(*Status)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updateLocked(f)
}

// updateLocked is update with mu held.
func (s *state) updateLocked(f func(*Status)) {
	old := s.status.State
	f(&s.status)
	now := time.Now()
	if s.status.State != old {
		s.status.Since = now
	}
	s.status.Updated = now
	s.seq++
	s.broadcastLocked()
	s.tellQuietLocked()
}

// begin records that work started which the agent does for the relay
// whether or not anyone watches (a command, a file arriving, a pairing
// notice); end records that it ended. The agent is quiet while nobody
// watches and nothing is under way.
func (s *state) begin() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busy++
	s.tellQuietLocked()
}

// end is begin's counterpart: one call for each begin.
func (s *state) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busy--
	s.tellQuietLocked()
}

// tellQuietLocked calls onQuiet when the agent went quiet or stopped
// being quiet (the first time in any case). It runs with mu held, so the
// calls come one at a time and in order.
func (s *state) tellQuietLocked() {
	if s.onQuiet == nil {
		return
	}
	q := s.status.Watchers == 0 && s.busy == 0
	if s.toldQuiet && q == s.quiet {
		return
	}
	s.toldQuiet, s.quiet = true, q
	s.onQuiet(q)
}

// snapshot returns a copy of the status and its version.
func (s *state) snapshot() (Status, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	st.Allowed = slices.Clone(st.Allowed)
	st.Custom = slices.Clone(st.Custom)
	st.Unavailable = maps.Clone(st.Unavailable)
	return st, s.seq
}

// currentSettings returns the settings in force.
func (s *state) currentSettings() Settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settings
}

// setSettings puts set in force and reports whether it differs from the
// settings it replaces. It does not broadcast: the caller follows up with
// update, which does.
func (s *state) setSettings(set Settings) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	same := reflect.DeepEqual(normalized(set), normalized(s.settings))
	s.settings = set
	return !same
}

func normalized(s Settings) Settings {
	if len(s.Commands) == 0 {
		s.Commands = nil
	}
	return s
}

// paused reports whether the owner paused Tether.
func (s *state) paused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settings.Paused
}

// mouseShared reports whether the owner shares mouse activity.
func (s *state) mouseShared() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settings.Mouse
}

// watchers returns how many clients watch the device, as the relay last said.
func (s *state) watchers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status.Watchers
}

// setHello records the hello as it would be sent now, and its unavailable
// commands in the status; it wakes the waiters only when the hello changed.
func (s *state) setHello(h protocol.Hello) {
	data := protocol.MustData(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if bytes.Equal(data, s.helloData) {
		return
	}
	s.helloData = data
	s.updateLocked(func(st *Status) { st.Unavailable = h.Unavailable })
}

// hello returns the hello's data as it would be sent now.
func (s *state) hello() json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.helloData
}

// clockJumped records that the kernel said the wall clock jumped (it was
// set, or the computer woke from sleep) and wakes the waiters; the status
// is unchanged.
func (s *state) clockJumped() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jumps++
	s.broadcastLocked()
}

// clockJumps returns how many times clockJumped was called.
func (s *state) clockJumps() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jumps
}
