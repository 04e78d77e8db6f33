package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tether-desktop/tether/protocol"
)

// dialer opens links: it registers the device when it has no identity yet,
// dials /ws/agent and reads the relay's welcome. Its fields are fixed by
// New; safe for concurrent use.
type dialer struct {
	hc          *http.Client
	ws          *websocket.Dialer
	dir         string // where the credentials live
	relay       string
	enrollToken string
	version     string // for the User-Agent
}

// errTokenRefused means /ws/agent answered 401: the device token is unknown.
var errTokenRefused = errors.New("relay refused the device token")

// opened is a WebSocket to the relay, past the welcome.
type opened struct {
	ws         *websocket.Conn
	creds      Credentials
	registered bool // the device was registered on the way
	maxFrame   int  // the largest frame the relay accepts from the agent
}

// open registers if needed, dials and reads the welcome. It returns
// errTokenRefused when the relay does not know the device's token, or a
// dial, API or I/O error. It blocks for at most the dial's and the
// welcome's timeouts.
func (d *dialer) open(ctx context.Context, dev Device, welcomeWait time.Duration) (*opened, error) {
	creds, registered, err := EnsureCredentials(ctx, d.hc, d.dir, d.relay, d.enrollToken, dev)
	if err != nil {
		return nil, err
	}
	u, err := wsURL(creds.Relay)
	if err != nil {
		return nil, err
	}
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+creds.DeviceToken)
	hdr.Set("User-Agent", "tether/"+d.version)
	wsd := d.ws
	if wsd.NetDialContext == nil && wsd.NetDial == nil && wsd.NetDialTLSContext == nil {
		q := *wsd // the relay's connection makes raw reads and writes (quietconn_linux.go)
		q.NetDialContext = dialQuiet
		wsd = &q
	}
	ws, resp, err := wsd.DialContext(ctx, u, hdr)
	if err != nil {
		if resp == nil {
			return nil, fmt.Errorf("dial relay: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized {
			return nil, errTokenRefused
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("dial relay: %w", apiError(resp.StatusCode, body))
	}
	ws.SetReadLimit(protocol.MaxAgentFrame)
	maxFrame, err := readWelcome(ws, creds.DeviceID, welcomeWait)
	if err != nil {
		ws.Close()
		return nil, err
	}
	return &opened{ws: ws, creds: creds, registered: registered, maxFrame: maxFrame}, nil
}

// readWelcome reads the relay's first frame and returns the largest frame the
// relay accepts from the agent.
func readWelcome(ws *websocket.Conn, deviceID string, wait time.Duration) (int, error) {
	ws.SetReadDeadline(time.Now().Add(wait))
	_, frame, err := ws.ReadMessage()
	if err != nil {
		return 0, fmt.Errorf("read welcome: %w", err)
	}
	m, err := protocol.Decode(frame)
	if err != nil {
		return 0, fmt.Errorf("read welcome: %w", err)
	}
	if m.Type != protocol.TypeWelcome {
		return 0, fmt.Errorf("read welcome: the relay's first frame is %q", m.Type)
	}
	var w protocol.Welcome
	if err := json.Unmarshal(m.Data, &w); err != nil {
		return 0, fmt.Errorf("read welcome: %w", err)
	}
	if w.DeviceID != "" && w.DeviceID != deviceID {
		return 0, fmt.Errorf("read welcome: relay took us for device %q, not %q", w.DeviceID, deviceID)
	}
	maxFrame := protocol.MaxAgentFrame
	if w.MaxFrame > 0 && w.MaxFrame < maxFrame {
		maxFrame = w.MaxFrame
	}
	return maxFrame, nil
}

// wsURL turns the relay's base URL into the agent socket's URL.
func wsURL(relay string) (string, error) {
	u, err := url.Parse(relay)
	if err != nil {
		return "", fmt.Errorf("relay URL %q: %w", relay, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("relay URL %q: scheme must be http or https", relay)
	}
	if u.Host == "" {
		return "", fmt.Errorf("relay URL %q has no host", relay)
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/ws/agent"
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}
