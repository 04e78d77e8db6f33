package server

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/tether-desktop/tether/protocol"
	"github.com/tether-desktop/tether/relay/store"
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

// GET /api/v1/device/pairings: the browsers paired with the calling device,
// oldest first, each with its pairing id, name, address, when it paired
// and when it was last seen.
func (s *Server) listPairings(w http.ResponseWriter, r *http.Request) {
	d, ok := s.authDevice(w, r)
	if !ok {
		return
	}
	ps, err := s.cfg.Store.DevicePairings(r.Context(), d.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]protocol.PairedBrowser, 0, len(ps))
	for _, p := range ps {
		out = append(out, pairedBrowser(p))
	}
	writeJSON(w, http.StatusOK, out)
}

// DELETE /api/v1/device/pairings/{id}: the calling device forgets one
// paired browser; that browser's sockets stop seeing the device at once,
// on every node. 404 not_found for an id the device has no pairing with.
func (s *Server) unpairOne(w http.ResponseWriter, r *http.Request) {
	d, ok := s.authDevice(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if id == "" || len(id) > protocol.MaxPairingIDLen || !protocol.IsDisplayText(id) {
		writeError(w, http.StatusNotFound, protocol.CodeNotFound, "no such paired browser")
		return
	}
	session, err := s.cfg.Store.RemovePairingByID(r.Context(), d.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, protocol.CodeNotFound, "no paired browser has the id "+strconv.Quote(id))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.book.forget(session, d.ID)
	s.router.Unpaired(session, d.ID)
	s.cfg.Logger.Info("device unpaired a browser", "device", d.ID, "pairing", id, "session", session)
	w.WriteHeader(http.StatusNoContent)
}
