package server

import "net/http"

// deviceInfo is the answer of GET /api/v1/device.
type deviceInfo struct {
	DeviceID       string `json:"device_id"`
	Name           string `json:"name"`
	PairedBrowsers int    `json:"paired_browsers"`
}

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
	writeJSON(w, http.StatusOK, deviceInfo{DeviceID: d.ID, Name: d.Name, PairedBrowsers: len(sessions)})
}
