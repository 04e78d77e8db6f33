package server

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tether-desktop/tether/protocol"
	"github.com/tether-desktop/tether/relay/broker"
	"github.com/tether-desktop/tether/relay/store"
)

// Router is what the HTTP handlers need from the hub: the live side of
// pairings and presence, cluster-wide (the hub passes what other nodes must
// know through its broker).
type Router interface {
	// Paired tells open sockets of session that it now watches device.
	Paired(session string, device store.Device)
	// Unpaired tells open sockets of session that device is gone for them.
	Unpaired(session, device string)
	// Live returns the live state of a device: online, its hello (nil offline).
	Live(device string) (online bool, hello *protocol.Hello)
}

// hub routes frames between agent and client sockets on this relay node,
// and through its broker to and from the other nodes of a cluster (see
// cluster.go). All its state is guarded by mu. Under mu the hub does no I/O
// and waits on nothing: peers have their own queues, whose lock is a leaf
// held only to append to them (never across a write), the broker only
// queues (never blocks), and metrics are lock-free counters. So a slow
// socket, a slow node or a /metrics reader never stalls the hub. Safe for
// concurrent use.
type hub struct {
	cfg  Config
	log  *slog.Logger
	m    *metrics
	br   broker.Broker
	node string        // this node's id in the cluster
	seq  atomic.Uint64 // this node's presence sequence; written under mu

	mu       sync.Mutex
	agents   map[string]*agentConn               // by device id
	sessions map[string]map[*clientConn]struct{} // open client sockets by session
	watchers map[string]map[*clientConn]struct{} // open client sockets by device they watch
	sessGen  map[string]uint64                   // pairing changes seen per session with sockets here
	files    map[string]*transfer                // file transfers through this node, by the id this node gave them
	filesIn  map[string]*transfer                // those sent from another node, by "node id" (see transfer_cluster.go)
	nextID   uint64
	closing  bool

	cluster // what the hub knows of the other nodes

	book *pairingBook // pairing names on forwarded commands and their last seen (pairbook.go); nil: none
}

// agentConn is the hub's view of one agent socket.
type agentConn struct {
	*peer
	device   store.Device
	at       int64                // when it connected, Unix ns: the newest connection of a device wins
	hello    *protocol.Hello      // nil until the first hello
	helloRaw json.RawMessage      // hello as JSON, for the other nodes; nil on a relay alone
	pending  map[string]*pending  // commands sent to this agent, by relay-assigned id
	watchers int                  // last count sent in a watch message; -1 before the first
	files    map[string]*transfer // file transfers to this agent, by relay-assigned id
	fanout   []fanTo              // agentFrame's list of watchers; its reader's only
}

// addPending records a command sent to a, waiting for its result. The
// map is made on first use: an idle agent holds none. h.mu held.
func (a *agentConn) addPending(rid string, p *pending) {
	if a.pending == nil {
		a.pending = map[string]*pending{}
	}
	a.pending[rid] = p
}

// addFile records a file transfer to a, made on first use like pending.
// h.mu held.
func (a *agentConn) addFile(rid string, t *transfer) {
	if a.files == nil {
		a.files = map[string]*transfer{}
	}
	a.files[rid] = t
}

// clientConn is the hub's view of one client socket.
type clientConn struct {
	*peer
	session string
	devices map[string]store.Device // paired devices, as known when they were paired
	ids     map[string]bool         // command ids this client has in flight
	files   map[string]*transfer    // file transfers this client is sending, by its id
	label   string                  // the session's label, shown with files it sends
	rate    bucket
}

// pending is a command waiting for its agent's result. Its client is on
// this node (client set), or on node origin, which gets the result.
type pending struct {
	client   *clientConn
	clientID string // the id the client chose
	device   string
	name     string
	timer    *time.Timer
	wait     time.Duration // how long the relay waits for the result
	node     string        // for a command sent to another node: that node
	origin   string        // for a command from another node: that node
	originID string        // and its id for the command
}

func newHub(cfg Config, m *metrics, br broker.Broker) *hub {
	return &hub{
		cfg: cfg, log: cfg.Logger, m: m, br: br, node: br.Node(),
		agents:   map[string]*agentConn{},
		sessions: map[string]map[*clientConn]struct{}{},
		watchers: map[string]map[*clientConn]struct{}{},
		sessGen:  map[string]uint64{},
		files:    map[string]*transfer{},
		filesIn:  map[string]*transfer{},
		cluster:  newCluster(),
	}
}

func encode(m *protocol.Message) []byte {
	b, err := protocol.Encode(m)
	if err != nil {
		panic("encode message: " + err.Error()) // messages built here always marshal
	}
	return b
}

// presenceLocked builds the presence frame of device for clients. mu held.
func (h *hub) presenceLocked(d store.Device) []byte {
	p := protocol.Presence{Name: d.Name, OS: d.OS, Capabilities: []string{}}
	if !d.LastSeen.IsZero() {
		p.LastSeen = protocol.Timestamp(d.LastSeen)
	}
	if hello, _ := h.ownerLocked(d.ID); hello != nil {
		p.Online = true
		p.Name, p.OS = hello.Name, hello.OS
		p.LastSeen = protocol.Timestamp(h.cfg.Now())
		p.Capabilities = hello.Capabilities()
		p.Commands = hello.Commands
		p.Paused = hello.Paused
		p.Screen = hello.Screen
		p.Unavailable = hello.Unavailable
	}
	return encode(&protocol.Message{Type: protocol.TypePresence, Device: d.ID, TS: protocol.Timestamp(h.cfg.Now()), Data: protocol.MustData(p)})
}

// broadcastPresenceLocked sends device's presence to every socket watching it. mu held.
func (h *hub) broadcastPresenceLocked(d store.Device) {
	frame := h.presenceLocked(d)
	for c := range h.watchers[d.ID] {
		c.send(frame)
	}
	h.m.relay(protocol.TypePresence, len(h.watchers[d.ID]))
}

// syncWatchLocked tells device's agent how many clients (on every node)
// watch it, if that changed. mu held.
func (h *hub) syncWatchLocked(device string) {
	a := h.agents[device]
	if a == nil || a.hello == nil {
		return
	}
	n := len(h.watchers[device]) + h.remoteWatchersLocked(device)
	if n == a.watchers {
		return
	}
	a.watchers = n
	a.send(encode(&protocol.Message{Type: protocol.TypeWatch, Data: protocol.MustData(protocol.Watch{Watchers: n})}))
}

// addAgent registers a, replacing (and closing) an older socket of the same device.
func (h *hub) addAgent(a *agentConn) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return fmt.Errorf("relay is shutting down")
	}
	if old := h.agents[a.device.ID]; old != nil {
		h.failPendingLocked(old, protocol.Errorf(protocol.CodeDeviceOffline, "the device reconnected before answering"))
		old.requestClose(CloseReplaced, "replaced by a newer connection")
		h.m.close("replaced")
	}
	a.at = h.cfg.Now().UnixNano()
	h.agents[a.device.ID] = a
	// A claim: an older connection of the device on another node closes.
	h.announceLocked(broker.Event{Kind: broker.Presence, Device: a.device.ID, At: a.at})
	return nil
}

// agentHello records a hello (first or update) and tells the watchers.
func (h *hub) agentHello(a *agentConn, hello *protocol.Hello) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.agents[a.device.ID] != a {
		return
	}
	first := a.hello == nil
	a.hello = hello
	raw := protocol.MustData(hello)
	if h.cfg.Broker != nil {
		// Kept for the other nodes' table requests (onSyncRequestLocked);
		// a relay alone has none to ask, and its agents keep only the
		// decoded hello (a desktop's hello is a few KB).
		a.helloRaw = raw
	}
	a.device.Name, a.device.OS = hello.Name, hello.OS
	h.broadcastPresenceLocked(a.device)
	h.announceLocked(broker.Event{Kind: broker.Presence, Device: a.device.ID, At: a.at, Data: raw})
	if first {
		a.watchers = -1
	}
	h.syncWatchLocked(a.device.ID)
}

// removeAgent forgets a (if it is still the device's socket), answers its
// pending commands and tells the watchers the device went offline.
func (h *hub) removeAgent(a *agentConn, lastSeen time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failPendingLocked(a, protocol.Errorf(protocol.CodeDeviceOffline, "the device disconnected before answering"))
	if h.agents[a.device.ID] != a {
		return
	}
	delete(h.agents, a.device.ID)
	h.announceLocked(broker.Event{Kind: broker.Presence, Device: a.device.ID, At: lastSeen.UnixNano(), Off: true})
	d := a.device
	d.LastSeen = lastSeen
	for c := range h.watchers[d.ID] {
		c.devices[d.ID] = d
	}
	h.broadcastPresenceLocked(d)
}

// failPendingLocked answers every command pending on a with err, and
// ends its file transfers with err. mu held.
func (h *hub) failPendingLocked(a *agentConn, err *protocol.Error) {
	for id, p := range a.pending {
		delete(a.pending, id)
		p.timer.Stop()
		h.answerLocked(p, nil, err)
	}
	h.failFilesLocked(a, err)
}

// answerLocked sends the one result of a pending command to its client,
// here or on the node it came from. mu held.
func (h *hub) answerLocked(p *pending, data json.RawMessage, err *protocol.Error) {
	if p.origin != "" {
		h.replyLocked(p.origin, p.originID, data, err)
		return
	}
	delete(p.client.ids, p.clientID)
	code := "ok"
	if err != nil {
		code = err.Code
	}
	h.m.command(code)
	if !p.client.sendNow(encode(protocol.Result(p.clientID, p.device, data, err))) {
		h.m.drop("result_client_gone")
	}
}

// addClient registers c, watching its paired devices, and sends it the
// presence of each.
func (h *hub) addClient(c *clientConn) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return fmt.Errorf("relay is shutting down")
	}
	set := h.sessions[c.session]
	if set == nil {
		set = map[*clientConn]struct{}{}
		h.sessions[c.session] = set
	}
	set[c] = struct{}{}
	for _, d := range c.devicesInOrder() {
		h.watchLocked(c, d)
	}
	return nil
}

// devicesInOrder returns c's devices sorted by id, for a stable presence order.
func (c *clientConn) devicesInOrder() []store.Device {
	ds := make([]store.Device, 0, len(c.devices))
	for _, d := range c.devices {
		ds = append(ds, d)
	}
	slices.SortFunc(ds, func(a, b store.Device) int { return strings.Compare(a.ID, b.ID) })
	return ds
}

// watchLocked makes c watch d and sends it d's presence. mu held.
func (h *hub) watchLocked(c *clientConn, d store.Device) {
	c.devices[d.ID] = d
	w := h.watchers[d.ID]
	if w == nil {
		w = map[*clientConn]struct{}{}
		h.watchers[d.ID] = w
	}
	w[c] = struct{}{}
	c.send(h.presenceLocked(d))
	h.syncWatchLocked(d.ID)
	h.interestLocked(d.ID)
}

// unwatchLocked stops c watching device. mu held.
func (h *hub) unwatchLocked(c *clientConn, device string) {
	delete(c.devices, device)
	if w := h.watchers[device]; w != nil {
		delete(w, c)
		if len(w) == 0 {
			delete(h.watchers, device)
		}
	}
	h.syncWatchLocked(device)
	h.interestLocked(device)
}

// removeClient forgets c. Its pending commands still complete; their results
// are dropped as the client is gone.
func (h *hub) removeClient(c *clientConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if set := h.sessions[c.session]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(h.sessions, c.session)
			delete(h.sessGen, c.session)
		}
	}
	for id := range c.devices {
		h.unwatchLocked(c, id)
	}
	h.dropClientFilesLocked(c)
}

// Paired implements Router: every open socket of session, on every node,
// watches device from now on.
func (h *hub) Paired(session string, d store.Device) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pairedLocked(session, d)
	h.broadcastLocked(broker.Event{Kind: broker.Paired, Session: session, Device: d.ID, Data: protocol.MustData(d)})
}

// pairedLocked makes the sockets of session on this node watch d. mu held.
func (h *hub) pairedLocked(session string, d store.Device) {
	if _, ok := h.sessions[session]; ok {
		h.sessGen[session]++
	}
	for c := range h.sessions[session] {
		if _, ok := c.devices[d.ID]; !ok {
			h.watchLocked(c, d)
		}
	}
}

// Unpaired implements Router: every open socket of session, on every
// node, stops seeing device at once, and is told so with a presence marked
// removed.
func (h *hub) Unpaired(session, device string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unpairedLocked(session, device)
	h.broadcastLocked(broker.Event{Kind: broker.Unpaired, Session: session, Device: device})
}

// unpairedLocked stops the sockets of session on this node watching device. mu held.
func (h *hub) unpairedLocked(session, device string) {
	if _, ok := h.sessions[session]; ok {
		h.sessGen[session]++
	}
	frame := encode(&protocol.Message{Type: protocol.TypePresence, Device: device, TS: protocol.Timestamp(h.cfg.Now()),
		Data: protocol.MustData(protocol.Presence{Removed: true, Capabilities: []string{}})})
	for c := range h.sessions[session] {
		if _, ok := c.devices[device]; ok {
			h.unwatchLocked(c, device)
			c.send(frame)
		}
	}
}

// Live implements Router.
func (h *hub) Live(device string) (bool, *protocol.Hello) {
	h.mu.Lock()
	defer h.mu.Unlock()
	hello, _ := h.ownerLocked(device)
	return hello != nil, hello
}

// agentData forwards telemetry and events of a to the clients watching it.
// The relay sets the device field itself, so an agent cannot speak for another.
func (h *hub) agentData(a *agentConn, msg *protocol.Message) {
	msg.Device = a.device.ID
	msg.TS = boundTS(msg.TS, protocol.Timestamp(h.cfg.Now()))
	h.agentFrame(a, msg.Type, encode(msg))
}

// agentFrame forwards frame, telemetry or an event (typ) of a, to the
// clients watching it, here and on other nodes. The caller has made sure
// that frame is valid and speaks for a's device only, with a bounded ts:
// agentData by encoding it so, readAgent by protocol.ReadEnvelope.
func (h *hub) agentFrame(a *agentConn, typ string, frame []byte) {
	h.mu.Lock()
	to := a.fanout[:0]
	for c := range h.watchers[a.device.ID] {
		to = append(to, fanTo{c, len(c.devices) <= writeNowDevices})
	}
	h.m.relay(typ, len(to))
	h.publishFrameLocked(a.device.ID, frame)
	h.mu.Unlock()
	for _, t := range to {
		switch {
		case typ != protocol.TypeTelemetry:
			t.c.send(frame)
		case t.now:
			t.c.sendLatestNow(a.device.ID, frame)
		default:
			t.c.sendLatest(a.device.ID, frame)
		}
	}
	clear(to)
	a.fanout = to
}

// writeNowDevices is the most devices a client may be paired with for the
// telemetry it watches to be written at once (sendLatestNow) rather than by
// its writer: frames from a few agents seldom meet in the writer's batch,
// and the writer's start is then most of the cost of a delivery (written
// at once, the realistic fan-out of docs/BENCHMARKS.md gives twice the
// deliveries per relay CPU-second); frames from many agents (a dashboard
// of 100) fill its batches, one write for many, which writing each at
// once would lose (half the deliveries there).
const writeNowDevices = 4

// fanTo is one watcher of agentFrame's list: the client, and whether its
// telemetry is written at once.
type fanTo struct {
	c   *clientConn
	now bool
}

// agentResult routes an agent's result to the client that sent the command.
func (h *hub) agentResult(a *agentConn, msg *protocol.Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := a.pending[msg.ID]
	if p == nil && h.agentFileResultLocked(a, msg) {
		return
	}
	if p == nil {
		h.m.drop("result_unknown_id") // late, after the relay answered timeout
		return
	}
	delete(a.pending, msg.ID)
	p.timer.Stop()
	var err *protocol.Error
	if msg.OK == nil || !*msg.OK {
		err = boundError(msg.Error)
		if err == nil {
			err = protocol.Errorf(protocol.CodeInternal, "the device reported a failure without a reason")
		}
	}
	h.answerLocked(p, msg.Data, err)
	h.m.relay(protocol.TypeResult, 1)
}

// command checks a client's command and forwards it to the device's agent,
// or answers it at once. Either way exactly one result reaches the client.
// Its length is the checks of ARCHITECTURE.md's "How one command travels",
// in that order, under one hold of the lock.
func (h *hub) command(c *clientConn, msg *protocol.Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	refuse := func(err *protocol.Error) {
		h.m.command(err.Code)
		c.send(encode(protocol.Result(msg.ID, msg.Device, nil, err)))
	}
	if ok, retry := c.rate.take(h.cfg.Now(), h.cfg.CommandRate, h.cfg.CommandBurst); !ok {
		refuse(protocol.Errorf(protocol.CodeRateLimited, "too many commands; retry in %d ms", retry.Milliseconds()+1))
		return
	}
	if c.ids[msg.ID] || c.files[msg.ID] != nil {
		// Not a result: the id's one result belongs to the pending command or transfer.
		h.m.command(protocol.CodeBadRequest)
		c.send(encode(&protocol.Message{Type: protocol.TypeError, ID: msg.ID,
			Error: protocol.Errorf(protocol.CodeBadRequest, "a command or transfer with id %q is already pending", msg.ID)}))
		return
	}
	hello, node, perr := h.reachLocked(c, msg.Device)
	if perr != nil {
		refuse(perr)
		return
	}
	if msg.Name == protocol.CommandReceiveFiles && protocol.FindCommand(hello.Commands, msg.Name) != nil {
		refuse(protocol.Errorf(protocol.CodeBadRequest, "receive_files is streamed: send file_begin, the chunks and file_end (PROTOCOL.md)"))
		return
	}
	spec, err := checkCommand(hello, msg)
	if err != nil {
		refuse(err)
		return
	}
	h.nextID++
	rid := "r" + strconv.FormatUint(h.nextID, 36)
	p := &pending{client: c, clientID: msg.ID, device: msg.Device, name: msg.Name, wait: spec.Wait(h.cfg.CommandTimeout)}
	fwd := encode(&protocol.Message{Type: protocol.TypeCommand, ID: rid, Device: msg.Device,
		TS: boundTS(msg.TS, protocol.Timestamp(h.cfg.Now())), Name: msg.Name, Args: msg.Args,
		Data: h.book.commandData(c.session, msg.Device, h.cfg.Now())})
	if node != h.node {
		if perr := h.unreachableLocked(node); perr != nil {
			refuse(perr)
			return
		}
		if err := h.br.Send(node, broker.Event{Kind: broker.Command, Device: msg.Device, ID: rid, Data: fwd}); err != nil {
			refuse(protocol.Errorf(protocol.CodeUnavailable, "the relay node holding the device cannot be reached; try again in a few seconds"))
			return
		}
		p.node = node
		c.ids[msg.ID] = true
		h.outbound[rid] = p
		p.timer = time.AfterFunc(p.wait, func() { h.expire(h.outbound, rid) })
		h.m.relay(protocol.TypeCommand, 1)
		return
	}
	a := h.agents[msg.Device]
	if !a.sendNow(fwd) {
		refuse(protocol.Errorf(protocol.CodeUnavailable, "the device's connection is overloaded"))
		return
	}
	c.ids[msg.ID] = true
	a.addPending(rid, p)
	p.timer = time.AfterFunc(p.wait, func() { h.expire(a.pending, rid) })
	h.m.relay(protocol.TypeCommand, 1)
}

// reachLocked returns the hello of device and the node holding it, for a
// command or a file from client c: or why it cannot be reached (not
// paired with c, offline, or the other nodes out of reach). mu held.
func (h *hub) reachLocked(c *clientConn, device string) (*protocol.Hello, string, *protocol.Error) {
	if _, ok := c.devices[device]; !ok || device == "" {
		return nil, "", protocol.Errorf(protocol.CodeNotPaired, "this browser is not paired with device %q", device)
	}
	hello, node := h.ownerLocked(device)
	switch {
	case hello == nil && h.linkDown:
		return nil, "", protocol.Errorf(protocol.CodeUnavailable, "the relay cannot reach the other relay nodes; try again in a few seconds")
	case hello == nil:
		return nil, "", protocol.Errorf(protocol.CodeDeviceOffline, "the device is offline")
	}
	return hello, node, nil
}

// checkCommand checks msg against the commands an agent's hello offers and
// returns the command's spec.
func checkCommand(hello *protocol.Hello, msg *protocol.Message) (*protocol.CommandSpec, *protocol.Error) {
	spec := protocol.FindCommand(hello.Commands, msg.Name)
	switch {
	case spec == nil && protocol.IsKnownCommand(msg.Name):
		return nil, protocol.Errorf(protocol.CodeNotAllowed, "command %q is switched off on this computer", msg.Name)
	case spec == nil:
		return nil, protocol.Errorf(protocol.CodeUnknownCommand, "the device has no command %q", msg.Name)
	case hello.Paused:
		return nil, protocol.Errorf(protocol.CodePaused, "the desktop's owner paused remote control")
	}
	if reason, ok := hello.Unavailable[msg.Name]; ok {
		return nil, protocol.Errorf(protocol.CodeUnavailable, "%s", reason)
	}
	if _, err := spec.Validate(msg.Args); err != nil {
		return nil, protocol.AsError(err)
	}
	return spec, nil
}

// expire answers timeout for command rid of the pending set m (an agent's,
// or the commands sent to other nodes) when nobody answered it in time.
func (h *hub) expire(m map[string]*pending, rid string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := m[rid]
	if p == nil {
		return
	}
	delete(m, rid)
	h.answerLocked(p, nil, protocol.Errorf(protocol.CodeTimeout, "the device did not answer within %s", p.wait))
}

// shutdown answers every pending command, closes every socket with 1012
// (service restart) and refuses new ones. It does not wait; callers wait for
// the socket handlers to return.
func (h *hub) shutdown() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closing = true
	h.failOutboundLocked("", protocol.Errorf(protocol.CodeUnavailable, "the relay is restarting; try again in a few seconds"))
	h.failRemoteFilesLocked("", protocol.Errorf(protocol.CodeUnavailable, "the relay is restarting; try again in a few seconds"))
	for _, a := range h.agents {
		h.failPendingLocked(a, protocol.Errorf(protocol.CodeUnavailable, "the relay is restarting; try again in a few seconds"))
		a.requestClose(websocket.CloseServiceRestart, "relay restarting")
	}
	for _, set := range h.sessions {
		for c := range set {
			c.requestClose(websocket.CloseServiceRestart, "relay restarting")
		}
	}
}
