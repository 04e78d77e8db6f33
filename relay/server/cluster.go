package server

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/tether-desktop/tether/protocol"
	"github.com/tether-desktop/tether/relay/broker"
	"github.com/tether-desktop/tether/relay/store"
)

// cluster is what a hub knows of the other relay nodes, all guarded by the
// hub's mu. Each node announces the agents it holds (Presence events, in
// sequence, with heartbeats carrying the sequence so that a node that
// missed one asks for the whole table); a node with clients watching a
// device held elsewhere tells that node how many (Interest, refreshed so
// that a dead node's interest expires), and only then are that device's
// frames published; commands go to the node holding the device and their
// one result comes back.
type cluster struct {
	remote   map[string]map[string]*remoteAgent // device → node → the agent it holds
	known    map[string]uint64                  // presence sequence of each node, as applied here
	behind   map[string]uint64                  // a node's sequence its last heartbeat gave, while known lags it
	asked    map[string]time.Time               // when a table was last asked of each node
	interest map[string]map[string]interest     // device held here → node → its watchers there
	told     map[string]toldInterest            // device held elsewhere → what its node was told
	outbound map[string]*pending                // commands sent to other nodes, by relay id
	syncing  map[string]*syncing                // presence tables arriving, by node
	linkDown bool                               // the broker lost its transport
	// unconfirmed holds the nodes not heard from since this node's link
	// came back: until one is, it may not have subscribed again on the
	// new link, and a command sent to it would be lost.
	unconfirmed map[string]bool
}

// syncing is a presence table arriving from a node in parts.
type syncing struct {
	seq  uint64          // the table's presence sequence
	next int             // the part expected next
	held map[string]bool // devices in the parts so far
	last time.Time       // when the last part arrived
}

// Limits of one message: NATS refuses payloads over 1 MB by default, so
// presence tables and interest refreshes go in parts. A variable for tests.
var syncPartBytes = 256 << 10

// interestPartCounts is the most devices in one interest refresh.
const interestPartCounts = 5000

// remoteAgent is an agent held by another node. Its hello is kept as the
// node sent it and decoded on first use (remoteHelloLocked): every node
// knows every agent of the cluster, but only the few watched or commanded
// from here need their hello decoded, and a decoded hello is several
// times the size of its JSON.
type remoteAgent struct {
	at       int64           // when it connected there, Unix ns
	helloRaw json.RawMessage // empty before its hello
	hello    *protocol.Hello // helloRaw decoded; nil until first used
	badHello bool            // helloRaw does not decode (logged once)
}

// interest is the number of client sockets of another node watching a
// device held here, and when that node last said so.
type interest struct {
	watchers int
	at       time.Time
}

// toldInterest is what the node holding a device was last told.
type toldInterest struct {
	node     string
	watchers int
}

// Interest timing: every node repeats its interests every interestRefresh;
// the holder forgets those not repeated within interestTTL.
const (
	interestRefresh = 2 * time.Second
	interestTTL     = 3 * interestRefresh
	syncRetry       = 2 * time.Second
	// syncStall: a table whose parts stop coming for this long is asked
	// again; while they come, it is not (a large table on a busy node takes
	// longer than syncRetry, and asking again would only send another).
	syncStall = 5 * time.Second
)

func newCluster() cluster {
	return cluster{
		remote: map[string]map[string]*remoteAgent{}, known: map[string]uint64{}, behind: map[string]uint64{}, asked: map[string]time.Time{},
		interest: map[string]map[string]interest{}, told: map[string]toldInterest{}, outbound: map[string]*pending{},
		syncing: map[string]*syncing{}, unconfirmed: map[string]bool{},
	}
}

// syncEntry is one agent in a node's presence table.
type syncEntry struct {
	Device string          `json:"d"`
	At     int64           `json:"t"`
	Hello  json.RawMessage `json:"h,omitempty"`
}

// remoteResult is the outcome of a command, sent back to the node of its client.
type remoteResult struct {
	Data  json.RawMessage `json:"data,omitempty"`
	Error *protocol.Error `json:"error,omitempty"`
}

// ownerLocked returns the hello of the device's newest connection across
// the cluster (nil when offline or before its hello) and the node holding
// it ("" when none does). mu held.
func (h *hub) ownerLocked(device string) (*protocol.Hello, string) {
	node, r := h.newestLocked(device)
	switch {
	case node == "":
		return nil, ""
	case r == nil:
		return h.agents[device].hello, node
	}
	return h.remoteHelloLocked(node, device, r), node
}

// ownerNodeLocked is the node of ownerLocked alone, decoding no hello. mu held.
func (h *hub) ownerNodeLocked(device string) string {
	node, _ := h.newestLocked(device)
	return node
}

// newestLocked returns the node holding the device's newest connection (""
// when none does) and, when that is another node, what is known of it
// there. mu held.
func (h *hub) newestLocked(device string) (string, *remoteAgent) {
	var newest *remoteAgent
	node, best := "", int64(-1)
	if a := h.agents[device]; a != nil {
		node, best = h.node, a.at
	}
	for n, r := range h.remote[device] {
		if r.at > best || (r.at == best && n > node) {
			node, best, newest = n, r.at, r
		}
	}
	return node, newest
}

// remoteHelloLocked returns r's hello, decoding it on first use; nil before
// its hello or when it does not decode. mu held.
func (h *hub) remoteHelloLocked(node, device string, r *remoteAgent) *protocol.Hello {
	if r.hello == nil && len(r.helloRaw) > 0 && !r.badHello {
		var hello protocol.Hello
		if err := json.Unmarshal(r.helloRaw, &hello); err != nil {
			r.badHello = true
			h.log.Warn("a relay node sent a hello that does not decode", "node", node, "device", device, "err", err)
		} else {
			r.hello = &hello
		}
	}
	return r.hello
}

// announceLocked tells the other nodes about an agent held here. mu held.
func (h *hub) announceLocked(e broker.Event) {
	e.Seq = h.seq.Add(1)
	h.broadcastLocked(e)
}

// broadcastLocked sends e to every other node, counting a failure. mu held.
func (h *hub) broadcastLocked(e broker.Event) {
	if err := h.br.Broadcast(e); err != nil {
		h.m.drop(dropBrokerControl)
	}
}

// remoteWatchersLocked is how many client sockets on other nodes watch a
// device held here. mu held.
func (h *hub) remoteWatchersLocked(device string) int {
	n := 0
	for _, i := range h.interest[device] {
		n += i.watchers
	}
	return n
}

// interestLocked follows a change in the number of local sockets watching
// device: frames of the device are received here while there are any, and
// the node holding the device is told the number. mu held.
func (h *hub) interestLocked(device string) {
	n := len(h.watchers[device])
	if n == 1 {
		h.br.Watch(device)
	} else if n == 0 {
		h.br.Unwatch(device)
	}
	h.tellInterestLocked(device)
}

// tellInterestLocked tells the node holding device (when another node holds
// it) how many sockets here watch it, if it was not told so already. mu held.
func (h *hub) tellInterestLocked(device string) {
	n := len(h.watchers[device])
	node := h.ownerNodeLocked(device)
	if node == "" || node == h.node {
		delete(h.told, device)
		return
	}
	t, ok := h.told[device]
	if ok && t.node == node && t.watchers == n || !ok && n == 0 {
		return // told already, or nothing to tell
	}
	if err := h.br.Send(node, broker.Event{Kind: broker.Interest, Device: device, Count: n}); err != nil {
		h.m.drop(dropBrokerControl)
		return
	}
	if n == 0 {
		delete(h.told, device)
	} else {
		h.told[device] = toldInterest{node, n}
	}
}

// publishFrameLocked passes a frame of a device held here to the other
// nodes, only while some node watches it. mu held.
func (h *hub) publishFrameLocked(device string, frame []byte) {
	if len(h.interest[device]) == 0 {
		return
	}
	if err := h.br.PublishFrame(device, frame); err != nil {
		h.m.drop(dropBrokerFrame)
	}
}

// replyLocked sends the result of a command from another node back to it. mu held.
func (h *hub) replyLocked(node, id string, data json.RawMessage, err *protocol.Error) {
	r := remoteResult{Data: data, Error: err}
	if e := h.br.Send(node, broker.Event{Kind: broker.Result, ID: id, Data: protocol.MustData(r)}); e != nil {
		h.m.drop(dropBrokerControl)
	}
}

// unreachableLocked says why a command or a file cannot be sent to node
// now, or returns nil. Nothing is sent from the moment this node is told
// its link to the others is lost until it has heard node again after the
// link came back: the broker can be connected again before this hub is
// told so (Reconnected), with node not back on the link yet, and a message
// sent then would be lost without a word, its sender waiting out the
// command timeout. mu held.
func (h *hub) unreachableLocked(node string) *protocol.Error {
	switch {
	case h.linkDown:
		return protocol.Errorf(protocol.CodeUnavailable, "the relay lost its link to the other relay nodes; try again in a few seconds")
	case h.unconfirmed[node]:
		return protocol.Errorf(protocol.CodeUnavailable, "the relay node holding the device is reconnecting; try again in a few seconds")
	}
	return nil
}

// failOutboundLocked answers err to every command sent to node (every
// node when node is ""). mu held.
func (h *hub) failOutboundLocked(node string, err *protocol.Error) {
	for rid, p := range h.outbound {
		if node == "" || p.node == node {
			delete(h.outbound, rid)
			p.timer.Stop()
			h.answerLocked(p, nil, err)
		}
	}
}

// ownerChangedLocked tells the local watchers of device its presence after
// a change on another node, and keeps the watch counts and interests
// right. lastSeen, when set, is when it went offline there. mu held.
func (h *hub) ownerChangedLocked(device string, lastSeen time.Time) {
	// Commands sent to a node that no longer holds the device will not be
	// answered there: answer them as one node does when its agent reconnects.
	owner := h.ownerNodeLocked(device)
	for rid, p := range h.outbound {
		if p.device == device && p.node != owner {
			delete(h.outbound, rid)
			p.timer.Stop()
			h.answerLocked(p, nil, protocol.Errorf(protocol.CodeDeviceOffline, "the device reconnected before answering"))
		}
	}
	h.ownerFilesLocked(device, owner)
	if w := h.watchers[device]; len(w) > 0 {
		var d store.Device
		for c := range w {
			if !lastSeen.IsZero() {
				rec := c.devices[device]
				rec.LastSeen = lastSeen
				c.devices[device] = rec
			}
			d = c.devices[device]
		}
		if a := h.agents[device]; a != nil {
			d = a.device
		}
		h.broadcastPresenceLocked(d)
	}
	h.syncWatchLocked(device)
	h.tellInterestLocked(device)
}

// setRemoteLocked records that node holds an agent of device since at,
// closing an older connection of the device here. It reports whether
// anything changed. mu held.
func (h *hub) setRemoteLocked(node, device string, at int64, raw json.RawMessage) bool {
	if old := h.remote[device][node]; old != nil && old.at == at && bytes.Equal(old.helloRaw, raw) {
		return false
	}
	r := &remoteAgent{at: at, helloRaw: raw}
	m := h.remote[device]
	if m == nil {
		m = map[string]*remoteAgent{}
		h.remote[device] = m
	}
	m[node] = r
	if a := h.agents[device]; a != nil && (a.at < at || (a.at == at && h.node < node)) {
		h.failPendingLocked(a, protocol.Errorf(protocol.CodeDeviceOffline, "the device reconnected before answering"))
		a.requestClose(CloseReplaced, "replaced by a newer connection")
		h.m.close("replaced")
	}
	return true
}

// dropRemoteLocked forgets that node holds an agent of device and reports
// whether it did. mu held.
func (h *hub) dropRemoteLocked(node, device string) bool {
	m := h.remote[device]
	if m[node] == nil {
		return false
	}
	delete(m, node)
	if len(m) == 0 {
		delete(h.remote, device)
	}
	return true
}

// askSyncLocked asks node for its whole presence table, at most every
// syncRetry, and not while the parts of one are still coming. mu held.
func (h *hub) askSyncLocked(node string) {
	now := time.Now()
	if now.Sub(h.asked[node]) < syncRetry {
		return
	}
	if st := h.syncing[node]; st != nil && now.Sub(st.last) < syncStall {
		return
	}
	h.asked[node] = now
	if err := h.br.Send(node, broker.Event{Kind: broker.SyncRequest}); err != nil {
		h.m.drop(dropBrokerControl)
	}
}

// onEvent handles an event from another node (or from the broker itself).
// It runs on the broker's one delivery goroutine.
func (h *hub) onEvent(e broker.Event) {
	if e.Kind == broker.Reconnected {
		go h.revalidate()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if e.From != "" && e.From != h.node {
		delete(h.unconfirmed, e.From) // it is on the link and listening
	}
	switch e.Kind {
	case broker.Presence:
		h.onPresenceLocked(e)
	case broker.Heartbeat:
		h.onHeartbeatLocked(e)
	case broker.SyncRequest:
		h.onSyncRequestLocked(e.From)
	case broker.SyncReply:
		h.onSyncReplyLocked(e)
	case broker.Interest:
		h.onInterestLocked(e)
	case broker.Frame:
		h.onFrameLocked(e)
	case broker.Command:
		h.onCommandLocked(e)
	case broker.Result:
		h.onResultLocked(e)
	case agentFrame:
		h.onAgentFrameLocked(e)
	case broker.Paired:
		var d store.Device
		if err := json.Unmarshal(e.Data, &d); err == nil && d.ID == e.Device {
			h.pairedLocked(e.Session, d)
		}
	case broker.Unpaired:
		h.unpairedLocked(e.Session, e.Device)
	case broker.NodeDown:
		h.onNodeDownLocked(e.From)
	case broker.Disconnected:
		h.linkDown = true
		h.failOutboundLocked("", protocol.Errorf(protocol.CodeUnavailable, "the relay lost its link to the other relay nodes; try again in a few seconds"))
		h.failRemoteFilesLocked("", protocol.Errorf(protocol.CodeUnavailable, "the relay lost its link to the other relay nodes; send the file again in a few seconds"))
	case broker.Reconnected:
		h.linkDown = false
		for node := range h.known {
			h.unconfirmed[node] = true
		}
		clear(h.told) // tell every holder again
		h.refreshInterestLocked()
	default:
		h.onFileEventLocked(e)
	}
}

// onHeartbeatLocked compares a node's presence sequence with what was
// applied here. A heartbeat can overtake the node's last presence events
// (they wait in its broker's queue while the heartbeat is sent), so a lag
// is taken for a loss only when the next heartbeat finds this node still
// short of what the previous one said; until then the events are on their
// way. A node never heard in full, or whose sequence went back (it
// restarted), is asked for its table at once. mu held.
func (h *hub) onHeartbeatLocked(e broker.Event) {
	k, ok := h.known[e.From]
	switch {
	case ok && k == e.Seq:
		delete(h.behind, e.From)
	case ok && k < e.Seq:
		if said, lagged := h.behind[e.From]; lagged && k < said {
			h.askSyncLocked(e.From)
		}
		h.behind[e.From] = e.Seq
	default:
		h.askSyncLocked(e.From)
	}
}

func (h *hub) onPresenceLocked(e broker.Event) {
	k, ok := h.known[e.From]
	switch {
	case ok && e.Seq <= k:
		return // already in the table it sent
	case ok && e.Seq == k+1:
		h.known[e.From] = e.Seq
	default:
		h.askSyncLocked(e.From) // missed some, or never had its table
	}
	changed := false
	var lastSeen time.Time
	if e.Off {
		changed = h.dropRemoteLocked(e.From, e.Device)
		lastSeen = time.Unix(0, e.At)
	} else {
		changed = h.setRemoteLocked(e.From, e.Device, e.At, e.Data)
	}
	if changed {
		h.ownerChangedLocked(e.Device, lastSeen)
	}
}

// onSyncRequestLocked sends this node's presence table to node, in parts
// of at most about syncPartBytes (Count parts, ID the part's index). mu held.
func (h *hub) onSyncRequestLocked(node string) {
	var parts [][]syncEntry
	var part []syncEntry
	size := 0
	for id, a := range h.agents {
		if len(part) > 0 && size+len(a.helloRaw)+128 > syncPartBytes {
			parts, part, size = append(parts, part), nil, 0
		}
		part = append(part, syncEntry{Device: id, At: a.at, Hello: a.helloRaw})
		size += len(a.helloRaw) + 128
	}
	parts = append(parts, part) // an empty table is one empty part
	seq := h.seq.Load()
	for i, p := range parts {
		if p == nil {
			p = []syncEntry{}
		}
		e := broker.Event{Kind: broker.SyncReply, Seq: seq, Count: len(parts), ID: strconv.Itoa(i), Data: protocol.MustData(p)}
		if err := h.br.Send(node, e); err != nil {
			h.m.drop(dropBrokerControl)
			return // the asker asks again
		}
	}
}

// onSyncReplyLocked applies a part of a node's presence table; after the
// last part, the devices the table did not list are gone from that node. mu held.
func (h *hub) onSyncReplyLocked(e broker.Event) {
	var entries []syncEntry
	i, err := strconv.Atoi(e.ID)
	if err == nil {
		err = json.Unmarshal(e.Data, &entries)
	}
	if err != nil {
		h.log.Warn("a relay node sent a presence table that does not decode", "node", e.From, "err", err)
		return
	}
	st := h.syncing[e.From]
	if i == 0 {
		st = &syncing{seq: e.Seq, held: map[string]bool{}}
		h.syncing[e.From] = st
	}
	if st == nil || st.seq != e.Seq || st.next != i {
		delete(h.syncing, e.From) // a part went missing: the next heartbeat asks again
		return
	}
	st.next++
	st.last = time.Now()
	for _, en := range entries {
		st.held[en.Device] = true
		if h.setRemoteLocked(e.From, en.Device, en.At, en.Hello) {
			h.ownerChangedLocked(en.Device, time.Time{})
		}
	}
	if st.next < e.Count {
		return
	}
	delete(h.syncing, e.From)
	h.known[e.From] = e.Seq
	delete(h.asked, e.From)
	delete(h.behind, e.From)
	now := h.cfg.Now()
	for device, m := range h.remote {
		if m[e.From] != nil && !st.held[device] && h.dropRemoteLocked(e.From, device) {
			h.ownerChangedLocked(device, now)
		}
	}
}

func (h *hub) onInterestLocked(e broker.Event) {
	counts := e.Counts
	if e.Device != "" {
		counts = map[string]int{e.Device: e.Count}
	}
	now := time.Now()
	for device, n := range counts {
		m := h.interest[device]
		if n <= 0 {
			if m == nil {
				continue
			}
			delete(m, e.From)
			if len(m) == 0 {
				delete(h.interest, device)
			}
		} else {
			if m == nil {
				m = map[string]interest{}
				h.interest[device] = m
			}
			m[e.From] = interest{watchers: n, at: now}
		}
		h.syncWatchLocked(device)
	}
}

// Keys read by isTelemetry.
var (
	typeKey        = []byte(`"type":"`)
	telemetryValue = []byte(protocol.TypeTelemetry + `"`)
	deviceKey      = []byte(`"device":"`)
	tsKey          = []byte(`"ts":"`)
)

// isTelemetry reports whether frame, a live frame of a device held by
// another node, is telemetry, to be coalesced for slow sockets as on the
// agent's own node. A node passes on frames it encoded (type first) and
// frames as their agent sent them (protocol.Forward), whose keys may come
// in any order, with device and ts added in front when the agent left them
// out: so "type" is looked for after any leading device and ts, and the
// envelope is read in full when it is not there.
func isTelemetry(frame []byte) bool {
	if len(frame) == 0 || frame[0] != '{' {
		return false
	}
	i := 1
	for {
		rest := frame[i:]
		var key []byte
		switch {
		case bytes.HasPrefix(rest, typeKey):
			return bytes.HasPrefix(rest[len(typeKey):], telemetryValue)
		case bytes.HasPrefix(rest, deviceKey):
			key = deviceKey
		case bytes.HasPrefix(rest, tsKey):
			key = tsKey
		}
		if key == nil {
			break
		}
		// A plain string value (no escapes, as protocol.Forward writes and
		// protocol.ReadEnvelope accepts), then the next key.
		end := bytes.IndexByte(rest[len(key):], '"')
		if end < 0 || bytes.IndexByte(rest[len(key):len(key)+end], '\\') >= 0 {
			break
		}
		i += len(key) + end + 1
		if i >= len(frame) || frame[i] != ',' {
			break
		}
		i++
	}
	env, ok := protocol.ReadEnvelope(frame)
	return ok && env.Type == protocol.TypeTelemetry
}

func (h *hub) onFrameLocked(e broker.Event) {
	if h.agents[e.Device] != nil {
		return // held here: its frames were sent to the watchers already
	}
	telemetry := isTelemetry(e.Data)
	for c := range h.watchers[e.Device] {
		if telemetry {
			c.sendLatest(e.Device, e.Data)
		} else {
			c.send(e.Data)
		}
	}
}

func (h *hub) onCommandLocked(e broker.Event) {
	var msg protocol.Message
	if err := json.Unmarshal(e.Data, &msg); err != nil || msg.Device != e.Device {
		h.replyLocked(e.From, e.ID, nil, protocol.Errorf(protocol.CodeBadRequest, "the command does not decode"))
		return
	}
	a := h.agents[e.Device]
	if a == nil || a.hello == nil {
		h.replyLocked(e.From, e.ID, nil, protocol.Errorf(protocol.CodeDeviceOffline, "the device is offline"))
		return
	}
	spec, perr := checkCommand(a.hello, &msg)
	if perr != nil {
		h.replyLocked(e.From, e.ID, nil, perr)
		return
	}
	h.nextID++
	rid := "r" + strconv.FormatUint(h.nextID, 36)
	msg.ID = rid
	if !a.sendNow(encode(&msg)) {
		h.replyLocked(e.From, e.ID, nil, protocol.Errorf(protocol.CodeUnavailable, "the device's connection is overloaded"))
		return
	}
	p := &pending{device: e.Device, name: msg.Name, origin: e.From, originID: e.ID, wait: spec.Wait(h.cfg.CommandTimeout)}
	a.addPending(rid, p)
	p.timer = time.AfterFunc(p.wait, func() { h.expire(a.pending, rid) })
}

func (h *hub) onResultLocked(e broker.Event) {
	p := h.outbound[e.ID]
	if p == nil || p.node != e.From {
		h.m.drop("result_unknown_id")
		return
	}
	delete(h.outbound, e.ID)
	p.timer.Stop()
	var r remoteResult
	if err := json.Unmarshal(e.Data, &r); err != nil {
		r = remoteResult{Error: protocol.Errorf(protocol.CodeInternal, "the relay node holding the device sent a result that does not decode")}
	}
	h.answerLocked(p, r.Data, boundError(r.Error))
	h.m.relay(protocol.TypeResult, 1)
}

func (h *hub) onNodeDownLocked(node string) {
	h.log.Warn("relay node stopped answering; its devices are offline", "node", node)
	delete(h.known, node)
	delete(h.asked, node)
	delete(h.behind, node)
	h.failOutboundLocked(node, protocol.Errorf(protocol.CodeDeviceOffline, "the relay node holding the device stopped"))
	h.failRemoteFilesLocked(node, protocol.Errorf(protocol.CodeDeviceOffline, "a relay node on the way stopped during the transfer"))
	now := h.cfg.Now()
	for device, m := range h.remote {
		if m[node] != nil && h.dropRemoteLocked(node, device) {
			h.ownerChangedLocked(device, now)
		}
	}
	for device, m := range h.interest {
		if _, ok := m[node]; ok {
			delete(m, node)
			if len(m) == 0 {
				delete(h.interest, device)
			}
			h.syncWatchLocked(device)
		}
	}
}

// refreshInterestLocked repeats to every node holding devices watched here
// how many sockets watch them. mu held.
func (h *hub) refreshInterestLocked() {
	byNode := map[string]map[string]int{}
	for device, w := range h.watchers {
		node := h.ownerNodeLocked(device)
		if node == "" || node == h.node {
			continue
		}
		if byNode[node] == nil {
			byNode[node] = map[string]int{}
		}
		byNode[node][device] = len(w)
		h.told[device] = toldInterest{node, len(w)}
	}
	for node, counts := range byNode {
		for len(counts) > 0 {
			part := counts
			if len(counts) > interestPartCounts {
				part = map[string]int{}
				for d, n := range counts {
					if len(part) == interestPartCounts {
						break
					}
					part[d] = n
					delete(counts, d)
				}
			} else {
				counts = nil
			}
			if err := h.br.Send(node, broker.Event{Kind: broker.Interest, Counts: part}); err != nil {
				h.m.drop(dropBrokerControl)
			}
		}
	}
}

// expireInterestLocked forgets interests not repeated within interestTTL. mu held.
func (h *hub) expireInterestLocked(now time.Time) {
	for device, m := range h.interest {
		changed := false
		for node, i := range m {
			if now.Sub(i.at) > interestTTL {
				delete(m, node)
				changed = true
			}
		}
		if len(m) == 0 {
			delete(h.interest, device)
		}
		if changed {
			h.syncWatchLocked(device)
		}
	}
}

// runCluster refreshes and expires interests until stop is closed.
func (h *hub) runCluster(stop <-chan struct{}) {
	t := time.NewTicker(interestRefresh)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			h.mu.Lock()
			h.refreshInterestLocked()
			h.expireInterestLocked(now)
			h.mu.Unlock()
		}
	}
}

// revalidate reads again from the store the pairings of every session with
// sockets here, after the link to the other nodes came back: pairings and
// unpairings made elsewhere while it was down reach the sockets. It blocks
// on the store.
func (h *hub) revalidate() {
	h.mu.Lock()
	sessions := make([]string, 0, len(h.sessions))
	for s := range h.sessions {
		sessions = append(sessions, s)
	}
	h.mu.Unlock()
	for _, sess := range sessions {
		h.resync(sess)
	}
}

// resync makes the sockets of session here watch exactly the devices the
// store has paired with it. A pairing change that reaches the hub while the
// store is read makes it read again (up to three times), so an older read
// never undoes a newer change. It blocks on the store.
func (h *hub) resync(session string) {
	for range 3 {
		h.mu.Lock()
		gen := h.sessGen[session]
		h.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		devices, err := h.cfg.Store.PairedDevices(ctx, session)
		cancel()
		if err != nil {
			h.log.Warn("re-read a session's pairings", "err", err)
			return
		}
		if h.syncSession(session, devices, gen) {
			return
		}
	}
}

// syncSession makes the sockets of session here watch exactly devices, if
// no pairing change of the session reached the hub since gen. It reports
// whether it did.
func (h *hub) syncSession(session string, devices []store.Device, gen uint64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sessGen[session] != gen {
		return false
	}
	want := make(map[string]bool, len(devices))
	for _, d := range devices {
		want[d.ID] = true
		h.pairedLocked(session, d)
	}
	gone := map[string]bool{}
	for c := range h.sessions[session] {
		for id := range c.devices {
			if !want[id] {
				gone[id] = true
			}
		}
	}
	for id := range gone {
		h.unpairedLocked(session, id)
	}
	return true
}
