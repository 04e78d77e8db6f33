// Package server is the relay: the HTTP API, the two WebSockets and the hub
// that routes frames between desktops (agents) and paired browsers (clients).
//
// It holds no cgo and no SQLite: durable state goes through store.Store. The
// hub holds this node's sockets; what crosses nodes of a cluster goes
// through a broker.Broker (in process for one node, NATS for several).
package server

import (
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/tether-desktop/tether/relay/broker"
	"github.com/tether-desktop/tether/relay/store"
)

// Config is everything a Server needs. The zero value of every field but
// Store and PublicURL means "use the default" (see fill).
type Config struct {
	// Store keeps devices, sessions and pairings. Required.
	Store store.Store
	// PublicURL is the URL people open, e.g. "https://relay.example.com".
	// Links and QR codes use it, and browser sockets must come from its origin.
	PublicURL string
	// AllowedOrigins are extra browser origins allowed to open /ws/client.
	AllowedOrigins []string
	// EnrollToken, when set, is required (as a bearer token) to register a device.
	EnrollToken string
	// CodeKey is the secret that pairing codes are hashed with (HMAC-SHA-256),
	// so a copy of the database does not reveal codes by brute force. Required.
	CodeKey []byte
	// Broker connects this node to the other relay nodes of a cluster; nil
	// is one node alone (an in-process broker nothing crosses). The Server
	// starts it; the caller closes it after Shutdown.
	Broker broker.Broker
	// Logger receives structured logs; default slog.Default().
	Logger *slog.Logger

	// Heartbeat is the time between the relay's WebSocket pings; default 25 s.
	Heartbeat time.Duration
	// DeadAfter closes a socket that sent nothing, not even a pong, for this
	// long; default 60 s.
	DeadAfter time.Duration
	// HelloTimeout is how long an agent has to send hello; default 10 s.
	HelloTimeout time.Duration
	// CommandTimeout is how long the relay waits for an agent's result before
	// answering timeout itself; default 20 s.
	CommandTimeout time.Duration
	// WriteTimeout bounds one write to a socket; default 10 s.
	WriteTimeout time.Duration
	// SendQueue is the number of frames a connection may have waiting for its
	// writer; default 256. Telemetry beyond it is coalesced; anything else
	// beyond it closes the connection as too slow.
	SendQueue int
	// SendQueueBytes bounds the bytes of the frames waiting in one socket's
	// queue (a frame alone may be larger); default 16 MiB. With agent frames
	// of up to 8 MiB a queue bounded by count only could hold gigabytes for a
	// reader that never reads; past it the socket is closed as too slow.
	SendQueueBytes int
	// CodeTTL is how long a pairing code is valid; default 10 minutes.
	CodeTTL time.Duration
	// SessionTTL is the lifetime of the session cookie; default 90 days.
	SessionTTL time.Duration
	// CommandRate and CommandBurst limit commands per client socket (per second).
	CommandRate  float64
	CommandBurst int
	// ClientFrameRate/Burst and AgentFrameRate/Burst limit all frames a socket
	// may send (per second); a socket past its limit is closed with 1008.
	ClientFrameRate  float64
	ClientFrameBurst int
	AgentFrameRate   float64
	AgentFrameBurst  int
	// PairRate and PairBurst limit pairing attempts per client address (per second).
	PairRate  float64
	PairBurst int
	// PairFailAddrRate and PairFailAddrBurst limit failed pairing attempts
	// per client address (per second): default 10, then one per 2 minutes,
	// so that one address alone cannot spend the relay-wide budget.
	PairFailAddrRate  float64
	PairFailAddrBurst int
	// CodeAttempts is how many times one pairing code may be tried.
	CodeAttempts int
	// LiveCodes is the most pairing codes expected to be valid at once; it
	// sizes the relay-wide budget of failed pairings (PairFailRate and
	// PairFailBurst, when those are not set) so that the chance of any
	// guess hitting a live code stays below one in a million a day:
	// PairFailBudgetPerDay(LiveCodes) failures a day. Default 100.
	LiveCodes int
	// PairFailRate and PairFailBurst are the relay-wide budget of failed
	// pairing attempts (per second), shared by every client: past it every
	// pairing is refused with 429 until a token is back. Default: from LiveCodes.
	PairFailRate  float64
	PairFailBurst int
	// OpenRegisterRate and OpenRegisterBurst are the relay-wide budget of
	// device registrations (per second) when no EnrollToken is set; default
	// 100 at once, then one every 6 s. With an enroll token only the
	// per-address limit applies.
	OpenRegisterRate  float64
	OpenRegisterBurst int
	// NeverConnectedTTL deletes devices that registered but never connected
	// within this long; default 24 h.
	NeverConnectedTTL time.Duration

	// PrivateMetrics takes /metrics off Handler: serve MetricsHandler on a
	// listener of its own instead.
	PrivateMetrics bool
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed (see clientAddr); from anyone else it is ignored.
	TrustedProxies []netip.Prefix
	// IPv6Prefix is how many leading bits of an IPv6 client address the
	// per-address limits count as one client; default 64.
	IPv6Prefix int
	// RequestTimeout bounds reading one HTTP request, headers and body
	// (Run also sets it as the server's ReadTimeout); an answer then has
	// WriteTimeout more to be written. Default 15 s.
	RequestTimeout time.Duration

	// ClientSocketsPerSession and ClientSocketsPerAddress cap the open
	// /ws/client sockets of one session and of one client address (or IPv6
	// prefix); past them 429. Defaults 16 and 64.
	ClientSocketsPerSession int
	ClientSocketsPerAddress int
	// MaxSockets is the relay-wide ceiling of open WebSockets, kept below
	// the process's open-file limit; past it 503. MaxClientSockets is the
	// part of it clients may take, so that agents always have room.
	// Defaults 10,000 and half of MaxSockets.
	MaxSockets       int
	MaxClientSockets int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// fill returns c with defaults in place and checks what is required. It is
// one long list on purpose: every default of Config, in the order of its
// fields, where a reader looks for it.
func (c Config) fill() (Config, error) {
	if c.Store == nil {
		return c, fmt.Errorf("server config: Store is required")
	}
	if len(c.CodeKey) < 16 {
		return c, fmt.Errorf("server config: CodeKey of at least 16 bytes is required")
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("server config: public URL %q must be an absolute http or https URL", c.PublicURL)
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Heartbeat, 25*time.Second)
	def(&c.DeadAfter, 60*time.Second)
	def(&c.HelloTimeout, 10*time.Second)
	def(&c.CommandTimeout, 20*time.Second)
	def(&c.WriteTimeout, 10*time.Second)
	def(&c.CodeTTL, 10*time.Minute)
	def(&c.SessionTTL, 90*24*time.Hour)
	if c.SendQueue <= 0 {
		c.SendQueue = 256
	}
	if c.SendQueueBytes <= 0 {
		c.SendQueueBytes = 16 << 20
	}
	if c.CommandRate <= 0 {
		c.CommandRate, c.CommandBurst = 20, 40
	}
	if c.ClientFrameRate <= 0 {
		c.ClientFrameRate, c.ClientFrameBurst = 100, 200
	}
	if c.AgentFrameRate <= 0 {
		c.AgentFrameRate, c.AgentFrameBurst = 500, 1000 // telemetry, ≤ 20 pointer events/s, results
	}
	if c.PairRate <= 0 {
		c.PairRate, c.PairBurst = 1.0/6, 10 // 10 at once, then one every 6 s: at most 610 an hour
	}
	if c.PairFailAddrRate <= 0 {
		c.PairFailAddrRate, c.PairFailAddrBurst = 1.0/120, 10
	}
	if c.PairFailAddrBurst <= 0 {
		c.PairFailAddrBurst = 1
	}
	if c.CodeAttempts <= 0 {
		c.CodeAttempts = 5
	}
	if c.LiveCodes <= 0 {
		c.LiveCodes = 100
	}
	if c.PairFailRate <= 0 {
		c.PairFailRate, c.PairFailBurst = pairFailBucket(c.LiveCodes)
	}
	if c.PairFailBurst <= 0 {
		c.PairFailBurst = 1
	}
	if c.OpenRegisterRate <= 0 {
		c.OpenRegisterRate, c.OpenRegisterBurst = 1.0/6, 100
	}
	if c.OpenRegisterBurst <= 0 {
		c.OpenRegisterBurst = 1
	}
	def(&c.NeverConnectedTTL, 24*time.Hour)
	def(&c.RequestTimeout, 15*time.Second)
	if c.IPv6Prefix <= 0 || c.IPv6Prefix > 128 {
		c.IPv6Prefix = 64
	}
	if c.ClientSocketsPerSession <= 0 {
		c.ClientSocketsPerSession = 16
	}
	if c.ClientSocketsPerAddress <= 0 {
		c.ClientSocketsPerAddress = 64
	}
	if c.MaxSockets <= 0 {
		c.MaxSockets = 10_000
	}
	if c.MaxClientSockets <= 0 || c.MaxClientSockets > c.MaxSockets {
		c.MaxClientSockets = c.MaxSockets / 2
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// origin returns scheme://host of a URL, the form browsers send in Origin.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

// CodeSpace is the number of different pairing codes: 8 symbols of a
// 31-letter alphabet.
var CodeSpace = math.Pow(float64(len(CodeAlphabet)), codeLen)

// guessOdds is the chance of a successful guess a day the relay-wide
// budget of failed pairings is sized for.
const guessOdds = 1e-6

// PairFailBudgetPerDay is how many failed pairing attempts a day keep the
// chance that any of them hits one of liveCodes valid codes below one in a
// million: each guess hits with probability liveCodes/CodeSpace at most.
func PairFailBudgetPerDay(liveCodes int) float64 {
	return guessOdds * CodeSpace / float64(max(liveCodes, 1))
}

// pairFailBucket sizes the relay-wide bucket of failed pairings for
// liveCodes: a burst of up to 100 (a tenth of the day's budget at most) and
// a rate that spends the rest over a day, so a full day, burst included,
// stays within PairFailBudgetPerDay.
func pairFailBucket(liveCodes int) (rate float64, burst int) {
	day := PairFailBudgetPerDay(liveCodes)
	burst = int(min(100, max(1, day/10)))
	return max(day-float64(burst), 1) / 86400, burst
}
