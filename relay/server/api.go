package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tether-desktop/tether/protocol"
	"github.com/tether-desktop/tether/relay/store"
)

// SessionCookie is the name of the browser session cookie.
const SessionCookie = "tether_session"

// maxBody bounds the JSON body of every API request.
const maxBody = 4 << 10

// Token prefixes make leaked tokens recognisable (secret scanners, logs).
const (
	deviceTokenPrefix  = "tdt_"
	sessionTokenPrefix = "tst_"
)

// writeError writes the JSON error body of the contract.
func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, protocol.ErrorBody{Error: protocol.Error{Code: code, Message: message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// fail answers a request that went wrong: store outages are 503 with
// Retry-After, everything unexpected 500; the details go to the log only.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrUnavailable) {
		s.cfg.Logger.Error("store unavailable", "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, protocol.CodeUnavailable, "the relay's storage is unavailable; try again shortly")
		return
	}
	s.cfg.Logger.Error("request failed", "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, protocol.CodeInternal, "internal error")
}

// tooMany answers 429 with Retry-After for a request refused by limit, and counts it.
func (s *Server) tooMany(w http.ResponseWriter, limit string, retry time.Duration, what string) {
	s.m.refuse(limit)
	secs := int(retry.Seconds() + 0.999)
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, http.StatusTooManyRequests, protocol.CodeRateLimited, fmt.Sprintf("too many %s; retry in %d s", what, secs))
}

// readJSON decodes a bounded JSON body into v, answering 400 or 413 itself.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, protocol.CodeTooLarge, fmt.Sprintf("request body over %d bytes", maxBody))
		return false
	case err != nil:
		writeError(w, http.StatusBadRequest, protocol.CodeBadRequest, "could not read the request body")
		return false
	case len(strings.TrimSpace(string(body))) == 0:
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeError(w, http.StatusBadRequest, protocol.CodeBadRequest, "request body is not the expected JSON object")
		return false
	}
	return true
}

// bearer returns the token of an "Authorization: Bearer" header, or "".
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// authDevice returns the device whose token the request carries, answering
// 401 itself when there is none.
func (s *Server) authDevice(w http.ResponseWriter, r *http.Request) (store.Device, bool) {
	tok := bearer(r)
	if !strings.HasPrefix(tok, deviceTokenPrefix) {
		writeError(w, http.StatusUnauthorized, protocol.CodeUnauthorized, "a device token is required (Authorization: Bearer tdt_…)")
		return store.Device{}, false
	}
	d, err := s.cfg.Store.DeviceByToken(r.Context(), hashToken(tok))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusUnauthorized, protocol.CodeUnauthorized, "unknown device token")
		return d, false
	}
	if err != nil {
		s.fail(w, r, err)
		return d, false
	}
	return d, true
}

// sessionAuth says how a request proved its session.
type sessionAuth int

const (
	viaBearer sessionAuth = iota + 1
	viaCookie
)

// session returns the session of a request (bearer token first, then the
// cookie) with the token and how it came, or answers 401 itself.
func (s *Server) session(w http.ResponseWriter, r *http.Request) (store.Session, string, sessionAuth, bool) {
	tok, how := bearer(r), viaBearer
	if tok == "" {
		if c, err := r.Cookie(SessionCookie); err == nil {
			tok, how = c.Value, viaCookie
		}
	}
	if !strings.HasPrefix(tok, sessionTokenPrefix) {
		writeError(w, http.StatusUnauthorized, protocol.CodeUnauthorized, "not paired: pair this browser with a code from the desktop's tray")
		return store.Session{}, "", 0, false
	}
	sess, err := s.cfg.Store.SessionByToken(r.Context(), hashToken(tok))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusUnauthorized, protocol.CodeUnauthorized, "unknown or revoked session")
		return sess, "", 0, false
	}
	if err != nil {
		s.fail(w, r, err)
		return sess, "", 0, false
	}
	if how == viaCookie && !s.sameOrigin(r) {
		writeError(w, http.StatusForbidden, protocol.CodeForbidden, "cross-origin request refused")
		return sess, "", 0, false
	}
	// Every request of the browser (its socket opening among them) counts
	// as seeing it on all its pairings.
	s.book.seen(sess.ID, "", s.cfg.Now())
	return sess, tok, how, true
}

// sameOrigin reports whether a cookie-carrying request may act: browsers send
// Origin on cross-site requests and WebSockets; it must be ours. Non-browser
// clients that send no Origin are allowed except on WebSockets, which
// clientSocket checks separately.
func (s *Server) sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	return o == "" || s.origins[strings.ToLower(o)]
}

// POST /api/v1/devices
func (s *Server) registerDevice(w http.ResponseWriter, r *http.Request) {
	if ok, retry := s.enrollIP.allow(s.limitKey(r), s.cfg.Now()); !ok {
		s.tooMany(w, refuseRegisterAddr, retry, "registrations from this address")
		return
	}
	if s.cfg.EnrollToken != "" && subtle.ConstantTimeCompare([]byte(bearer(r)), []byte(s.cfg.EnrollToken)) != 1 {
		writeError(w, http.StatusUnauthorized, protocol.CodeUnauthorized, "this relay needs an enroll token to register a device")
		return
	}
	var req struct {
		Name string `json:"name"`
		OS   string `json:"os"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	// The same check as a hello's name and OS (protocol.DecodeHello), so a
	// name refused here cannot come in through the other door.
	var perr *protocol.Error
	if req.Name, req.OS, perr = protocol.CheckDeviceInfo(req.Name, req.OS); perr != nil {
		writeError(w, http.StatusBadRequest, perr.Code, perr.Message)
		return
	}
	now := s.cfg.Now()
	if s.cfg.EnrollToken == "" {
		// Open registration: anyone may register, so the relay as a whole
		// takes only so many (devices that never connect are deleted later).
		if ok, retry := s.openEnroll.take(now); !ok {
			s.tooMany(w, refuseRegisterRelay, retry, "registrations on this relay")
			return
		}
	}
	d := store.Device{ID: newID("d_"), Name: req.Name, OS: req.OS, CreatedAt: now}
	tok := newToken(deviceTokenPrefix)
	if err := s.cfg.Store.CreateDevice(r.Context(), d, hashToken(tok)); err != nil {
		s.fail(w, r, err)
		return
	}
	s.cfg.Logger.Info("device registered", "device", d.ID, "name", d.Name, "os", d.OS, "addr", s.logAddr(r))
	writeJSON(w, http.StatusCreated, protocol.Registration{DeviceID: d.ID, DeviceToken: tok})
}

// POST /api/v1/pairing-codes
func (s *Server) createPairingCode(w http.ResponseWriter, r *http.Request) {
	d, ok := s.authDevice(w, r)
	if !ok {
		return
	}
	if ok, retry := s.codesDev.allow(d.ID, s.cfg.Now()); !ok {
		s.tooMany(w, refuseCodesDevice, retry, "pairing codes")
		return
	}
	expires := s.cfg.Now().Add(s.cfg.CodeTTL)
	var code string
	for try := 0; ; try++ {
		code = NewPairingCode()
		err := s.cfg.Store.CreatePairingCode(r.Context(), s.hashCode(code), d.ID, expires)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrConflict) || try == 3 {
			s.fail(w, r, err)
			return
		}
	}
	s.cfg.Logger.Info("pairing code issued", "device", d.ID, "expires", expires.UTC().Format(time.RFC3339))
	writeJSON(w, http.StatusCreated, protocol.PairingCode{
		Code:      code,
		ExpiresAt: expires.UTC().Truncate(time.Second), // RFC 3339 without fractions, as before
		URL:       s.cfg.PublicURL + "/pair?code=" + code,
	})
}

// DELETE /api/v1/device/pairings
func (s *Server) unpairAll(w http.ResponseWriter, r *http.Request) {
	d, ok := s.authDevice(w, r)
	if !ok {
		return
	}
	sessions, err := s.cfg.Store.RemoveDevicePairings(r.Context(), d.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, sess := range sessions {
		s.book.forget(sess, d.ID)
		s.router.Unpaired(sess, d.ID)
	}
	s.cfg.Logger.Info("device unpaired from every browser", "device", d.ID, "sessions", len(sessions))
	w.WriteHeader(http.StatusNoContent)
}

// POST /api/v1/pairings: three steps, each answering the request itself
// when it refuses it: the request and the limits before a code is tried,
// the code redeemed, then the browser's session given the device.
func (s *Server) pair(w http.ResponseWriter, r *http.Request) {
	now := s.cfg.Now()
	req, hash, ok := s.pairRequest(w, r, now)
	if !ok {
		return
	}
	device, ok := s.redeem(w, r, hash, now)
	if !ok {
		return
	}
	// A browser that is already paired adds the device to its session.
	sess, tok, ok := s.existingSession(r)
	if !ok {
		tok = newToken(sessionTokenPrefix)
		sess = store.Session{ID: newID("s_"), Label: req.Label, CreatedAt: now}
		if err := s.cfg.Store.CreateSession(r.Context(), sess, hashToken(tok)); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	p, created, err := s.cfg.Store.RecordPairing(r.Context(), store.Pairing{SessionID: sess.ID, DeviceID: device.ID,
		Name: browserName(r.UserAgent()), Address: s.logAddr(r), CreatedAt: now})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.book.learn(p)
	s.router.Paired(sess.ID, device)
	if created {
		s.hub.pairingNotice(p)
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: tok, Path: "/",
		MaxAge: int(s.cfg.SessionTTL.Seconds()), HttpOnly: true,
		Secure:   r.TLS != nil || strings.HasPrefix(s.cfg.PublicURL, "https://"),
		SameSite: http.SameSiteStrictMode,
	})
	s.cfg.Logger.Info("browser paired", "device", device.ID, "session", sess.ID, "pairing", p.ID, "browser", p.Name, "addr", s.logAddr(r))
	writeJSON(w, http.StatusCreated, protocol.Pairing{DeviceID: device.ID, DeviceName: device.Name, SessionToken: tok})
}

// pairRequest reads a pairing request and applies every limit that comes
// before the code is tried: per address, per code (counted in the store, so
// every node of a cluster shares one count), the Origin. It returns the
// request and the code's hash, or answers and returns false.
func (s *Server) pairRequest(w http.ResponseWriter, r *http.Request, now time.Time) (protocol.PairRequest, []byte, bool) {
	var req protocol.PairRequest
	key := s.limitKey(r)
	if ok, retry := s.pairIP.allow(key, now); !ok {
		s.tooMany(w, refusePairAddr, retry, "pairing attempts from this address")
		return req, nil, false
	}
	if ok, retry := s.pairFailIP.has(key, now); !ok {
		s.tooMany(w, refusePairAddr, retry, "failed pairing attempts from this address")
		return req, nil, false
	}
	if !readJSON(w, r, &req) {
		return req, nil, false
	}
	code, ok := NormalizeCode(req.Code)
	if !ok {
		writeError(w, http.StatusBadRequest, protocol.CodeBadRequest, "a pairing code has 8 letters and digits, like ABCD-2345")
		return req, nil, false
	}
	if utf8.RuneCountInString(req.Label) > 64 || !protocol.IsDisplayText(req.Label) {
		writeError(w, http.StatusBadRequest, protocol.CodeBadRequest, "label must be printable text of at most 64 characters")
		return req, nil, false
	}
	hash := s.hashCode(code)
	attempts, windowEnd, err := s.cfg.Store.CountPairingAttempt(r.Context(), hash, now, s.cfg.CodeTTL)
	if err != nil {
		s.fail(w, r, err)
		return req, nil, false
	}
	if attempts > s.cfg.CodeAttempts {
		s.tooMany(w, refusePairCode, windowEnd.Sub(now), "attempts with this code")
		return req, nil, false
	}
	if !s.sameOrigin(r) {
		writeError(w, http.StatusForbidden, protocol.CodeForbidden, "cross-origin request refused")
		return req, nil, false
	}
	return req, hash, true
}

// redeem spends the code hashing to hash and returns its device, under the
// relay-wide (and, in a cluster, cluster-wide) budget of failed attempts: a
// token is taken before the code is tried and given back when it was right.
// On a refusal it answers and returns false.
func (s *Server) redeem(w http.ResponseWriter, r *http.Request, hash []byte, now time.Time) (store.Device, bool) {
	if ok, retry := s.pairFails.take(now); !ok {
		s.tooMany(w, refusePairRelay, retry, "failed pairing attempts on this relay")
		return store.Device{}, false
	}
	if s.pairFailsCl != nil {
		if ok, retry := s.pairFailsCl.open(now); !ok {
			s.pairFails.refund()
			s.tooMany(w, refusePairRelay, retry, "failed pairing attempts on this relay")
			return store.Device{}, false
		}
	}
	deviceID, err := s.cfg.Store.RedeemPairingCode(r.Context(), hash, now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.failedPairing(r, s.limitKey(r))
		writeError(w, http.StatusNotFound, protocol.CodeNotFound, "no such pairing code: it may be mistyped or already used")
		return store.Device{}, false
	case errors.Is(err, store.ErrExpired):
		s.failedPairing(r, s.limitKey(r))
		writeError(w, http.StatusNotFound, protocol.CodeNotFound, "this pairing code has expired: get a new one from the desktop's tray")
		return store.Device{}, false
	case err != nil:
		s.pairFails.refund()
		s.fail(w, r, err)
		return store.Device{}, false
	}
	s.pairFails.refund()
	device, err := s.cfg.Store.Device(r.Context(), deviceID)
	if err != nil {
		s.fail(w, r, err)
		return store.Device{}, false
	}
	return device, true
}

// failedPairing spends a failure of the client's (limit key key), counts a
// pairing code that did not exist or had expired and logs it, sampled (see
// Server.pairFailLog).
func (s *Server) failedPairing(r *http.Request, key string) {
	s.pairFailIP.allow(key, s.cfg.Now())
	if s.pairFailsCl != nil {
		if err := s.pairFailsCl.failed(r.Context(), s.cfg.Now()); err != nil {
			s.cfg.Logger.Warn("count a failed pairing cluster-wide", "err", err)
		}
	}
	s.m.pairFail.Add(1)
	s.pairFailLog.note(s.cfg.Now(), s.logAddr(r))
}

// existingSession returns the valid session the request already carries, if any.
func (s *Server) existingSession(r *http.Request) (store.Session, string, bool) {
	tok := bearer(r)
	if tok == "" {
		if c, err := r.Cookie(SessionCookie); err == nil {
			tok = c.Value
		}
	}
	if !strings.HasPrefix(tok, sessionTokenPrefix) {
		return store.Session{}, "", false
	}
	sess, err := s.cfg.Store.SessionByToken(r.Context(), hashToken(tok))
	return sess, tok, err == nil
}

// GET /api/v1/devices
func (s *Server) listDevices(w http.ResponseWriter, r *http.Request) {
	sess, _, _, ok := s.session(w, r)
	if !ok {
		return
	}
	devices, err := s.cfg.Store.PairedDevices(r.Context(), sess.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	pairings, err := s.cfg.Store.SessionPairings(r.Context(), sess.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	mine := make(map[string]store.Pairing, len(pairings))
	for _, p := range pairings {
		mine[p.DeviceID] = p
	}
	out := make([]protocol.DeviceEntry, 0, len(devices))
	for _, d := range devices {
		v := protocol.DeviceEntry{DeviceID: d.ID, Name: d.Name, OS: d.OS, Capabilities: []string{}}
		if p, ok := mine[d.ID]; ok {
			v.PairedAs, v.PairedAt = p.Name, p.CreatedAt.UTC().Format(time.RFC3339)
		}
		if !d.LastSeen.IsZero() {
			v.LastSeen = d.LastSeen.UTC().Format(time.RFC3339)
		}
		if online, hello := s.router.Live(d.ID); online {
			v.Online, v.Name, v.OS = true, hello.Name, hello.OS
			v.LastSeen = s.cfg.Now().UTC().Format(time.RFC3339)
			v.Capabilities = hello.Capabilities()
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, out)
}

// DELETE /api/v1/pairings/{device_id}
func (s *Server) unpair(w http.ResponseWriter, r *http.Request) {
	sess, _, _, ok := s.session(w, r)
	if !ok {
		return
	}
	id := r.PathValue("device_id")
	err := s.cfg.Store.RemovePairing(r.Context(), sess.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, protocol.CodeNotPaired, "this browser is not paired with that device")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.book.forget(sess.ID, id)
	s.router.Unpaired(sess.ID, id)
	s.cfg.Logger.Info("browser unpaired", "device", id, "session", sess.ID)
	w.WriteHeader(http.StatusNoContent)
}

// storeCtx bounds store calls made outside a request (socket handlers).
func storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}
