package server

import (
	"context"
	"fmt"
	"time"

	"github.com/tether-desktop/tether/relay/store"
)

// storeClock is the store method that makes the store read the relay's clock
// (store.SQLite has it); shareClock uses it when the store has it.
type storeClock interface {
	SetClock(now func() time.Time)
}

// shareClock gives the store the relay's clock (Config.Now), so that the
// store's own idea of "now" (the idle check of session lookups) agrees with
// the relay's. It does nothing for a store without SetClock.
func (s *Server) shareClock() {
	if c, ok := s.cfg.Store.(storeClock); ok {
		c.SetClock(s.cfg.Now)
	}
}

// sweepIdleSessions deletes the sessions unused for longer than
// store.SessionIdleTTL, with their pairings, and says how many. It blocks on
// the store.
func (s *Server) sweepIdleSessions(ctx context.Context) (int, error) {
	n, err := s.cfg.Store.ExpireIdleSessions(ctx, s.cfg.Now().Add(-store.SessionIdleTTL))
	if err != nil {
		s.cfg.Logger.Warn("delete idle sessions", "err", err)
		return 0, fmt.Errorf("delete idle sessions: %w", err)
	}
	if n > 0 {
		s.cfg.Logger.Info("deleted idle sessions", "count", n, "idle_for", store.SessionIdleTTL)
	}
	return n, nil
}
