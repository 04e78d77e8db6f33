package server

import (
	"net/http"

	"github.com/tether-desktop/tether/protocol"
)

// GET /api/v1/device: the calling device (device token) as the relay knows it,
// with the number of browser sessions paired with it (for the tray's "Paired
// browsers: N").
func (s *Server) deviceSelf(w http.ResponseWriter, r *http.Request) {
	d, ok := s.authDevice(w, r)
	if !ok {
		return
	}
	sessions, err := s.cfg.Store.PairedSessions(r.Context(), d.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, protocol.DeviceInfo{DeviceID: d.ID, Name: d.Name, PairedBrowsers: len(sessions)})
}
