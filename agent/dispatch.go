package agent

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/protocol"
)

// runner carries out the relay's commands through the whitelisting
// dispatcher (which also turns a handler's panic into an internal error),
// at most cap(sem) at once. Safe for concurrent use.
type runner struct {
	disp *commands.Dispatcher
	log  *slog.Logger
	sem  chan struct{} // one slot per running command
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
// command ends or its timeout passes.
func (r *runner) run(ctx context.Context, m *protocol.Message) (json.RawMessage, *protocol.Error) {
	data, perr := r.disp.Run(ctx, m.Name, m.Args)
	if perr != nil {
		r.log.Info("command refused or failed", "command", m.Name, "id", m.ID, "code", perr.Code, "err", perr.Message)
	} else {
		r.log.Info("command done", "command", m.Name, "id", m.ID)
	}
	return data, perr
}
