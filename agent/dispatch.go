package agent

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/tether-desktop/tether/agent/activity"
	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/protocol"
)

// runner carries out the relay's commands through the whitelisting
// dispatcher (which also turns a handler's panic into an internal error),
// at most cap(sem) at once, and writes each to the activity log. It also
// shows the relay's pairing notices (pairings.go). Safe for concurrent use.
type runner struct {
	disp     *commands.Dispatcher
	log      *slog.Logger
	sem      chan struct{}   // one slot per running command
	activity *activity.Log   // nil: no activity log
	notices  *pairingNotices // nil: pairing notices are only logged
}

// newRunner builds the runner of an agent with cfg: at most
// cfg.MaxConcurrent commands at once, the activity log in cfg.ConfigDir,
// pairing notices through cfg.Desktop.
func newRunner(cfg Config, disp *commands.Dispatcher) *runner {
	return &runner{
		disp: disp, log: cfg.Logger, sem: make(chan struct{}, cfg.MaxConcurrent),
		activity: activity.New(cfg.ConfigDir, 0, cfg.Logger),
		notices:  newPairingNotices(cfg.Desktop, cfg.Logger, cfg.ConfigDir, cfg.RelayURL, cfg.HTTPClient),
	}
}

// acquire takes a slot for one command, or reports false when every slot is
// taken. A true answer must be followed by release.
func (r *runner) acquire() bool {
	select {
	case r.sem <- struct{}{}:
		return true
	default:
		return false
	}
}

// release gives back a slot taken by acquire.
func (r *runner) release() { <-r.sem }

// limit is the number of commands that may run at once.
func (r *runner) limit() int { return cap(r.sem) }

// run carries out command m and logs how it went. It blocks until the
// command ends or its timeout passes. The caller writes the outcome to the
// activity log (record) once it knows what was answered: a result too
// large to send is answered too_large.
func (r *runner) run(ctx context.Context, m *protocol.Message) (json.RawMessage, *protocol.Error) {
	data, perr := r.disp.Run(ctx, m.Name, m.Args)
	if perr != nil {
		r.log.Info("command refused or failed", "command", m.Name, "id", m.ID, "code", perr.Code, "err", perr.Message)
	} else {
		r.log.Info("command done", "command", m.Name, "id", m.ID)
	}
	return data, perr
}

// record writes command m and its outcome (perr nil: done) to the activity
// log: the browser that sent it when the relay said so (m.Data, a
// protocol.CommandFrom), and a summary of its arguments without typed
// text. Commands refused before they run (too many at once) are recorded
// through it too. It blocks on the disk only.
func (r *runner) record(m *protocol.Message, perr *protocol.Error) {
	if r.activity == nil {
		return
	}
	var from protocol.CommandFrom
	if len(m.Data) > 0 {
		_ = json.Unmarshal(m.Data, &from) // what the relay set; unknown when absent or odd
	}
	e := activity.Entry{
		Browser: protocol.CleanText(from.Browser, protocol.MaxBrowserNameRunes),
		Pairing: protocol.CleanText(from.Pairing, protocol.MaxPairingIDLen),
		Command: protocol.CleanText(m.Name, protocol.MaxNameLen),
		Args:    activity.Summarize(m.Name, m.Args),
		OK:      perr == nil,
	}
	if perr != nil {
		e.Code = perr.Code
	}
	r.activity.Append(e)
}

// recordFile writes the outcome of a file transfer (perr nil: saved) to the
// activity log: the browser the relay named, the size and the type, never
// the file's name (it can be private). It blocks on the disk only.
func (r *runner) recordFile(b protocol.FileBegin, perr *protocol.Error) {
	if r.activity == nil {
		return
	}
	e := activity.Entry{
		Browser: protocol.CleanText(b.From, protocol.MaxBrowserNameRunes),
		Command: protocol.CommandReceiveFiles,
		Args:    map[string]any{"bytes": b.Size, "mime": protocol.CleanText(b.MIME, protocol.MaxMIMELen)},
		OK:      perr == nil,
	}
	if perr != nil {
		e.Code = perr.Code
	}
	r.activity.Append(e)
}

// ActivityPage writes the newest entries of the activity log as an HTML
// page in the config directory (owner-only) and returns its path, for the
// tray's "Recent activity…". It blocks on the disk only.
func (a *Agent) ActivityPage() (string, error) { return activity.WritePage(a.cfg.ConfigDir, 0) }
