// Package broker carries what crosses relay nodes: presence, the live frames
// of watched devices, commands and their results, and control messages such
// as unpairings. Each node keeps its own sockets in a node-local hub (package
// relay/server); the hub talks to the other nodes only through a Broker.
//
// Two implementations exist: Bus, in process (one node by default, or
// several nodes of one test process), and NATS, over a NATS server for
// relay nodes on several machines. Neither blocks its caller: every send
// goes to a bounded queue and fails with ErrUnavailable when the queue is
// full or the transport is down.
package broker

import (
	"encoding/json"
	"errors"
	"sync"
	"time"
)

// ErrUnavailable is returned when a message cannot be handed to the other
// nodes now: the transport is down or its queue is full.
var ErrUnavailable = errors.New("broker: unavailable")

// Kind says what an Event is.
type Kind string

// The kinds of Event.
const (
	// Presence (broadcast): an agent of Device is held by From since At;
	// Data is its hello (empty before hello), or Off is set when it left
	// (At is then its last-seen time). Seq is From's presence sequence.
	Presence Kind = "presence"
	// Interest (to the device's node): From has Count client sockets
	// watching Device, or Counts by device in a refresh.
	Interest Kind = "interest"
	// Command (to the device's node): Data is the command frame; ID
	// correlates the Result.
	Command Kind = "command"
	// Result (to the node that sent the command): Data is the outcome.
	Result Kind = "result"
	// Paired and Unpaired (broadcast): Session now sees, or no longer sees,
	// Device (Data is the device record for Paired).
	Paired   Kind = "paired"
	Unpaired Kind = "unpaired"
	// SyncRequest (to a node) asks for its presence table; SyncReply (to
	// the asker) carries it in Data, as of Seq.
	SyncRequest Kind = "sync_request"
	SyncReply   Kind = "sync_reply"
	// Frame is a live frame of Device (Data), for nodes that Watch it.
	Frame Kind = "frame"

	// Heartbeat is delivered when node From shows it is alive; Seq is its
	// presence sequence.
	Heartbeat Kind = "heartbeat"
	// NodeDown is delivered (by the broker itself) when node From has not
	// been heard from within the dead-after time.
	NodeDown Kind = "node_down"
	// Disconnected and Reconnected are delivered (by the broker itself)
	// when this node loses or regains the transport.
	Disconnected Kind = "disconnected"
	Reconnected  Kind = "reconnected"
)

// Event is one message between nodes.
type Event struct {
	Kind    Kind            `json:"k"`
	From    string          `json:"f"`
	Device  string          `json:"d,omitempty"`
	Session string          `json:"s,omitempty"`
	ID      string          `json:"i,omitempty"`
	Seq     uint64          `json:"q,omitempty"`
	At      int64           `json:"t,omitempty"` // Unix nanoseconds
	Off     bool            `json:"o,omitempty"`
	Count   int             `json:"n,omitempty"`
	Counts  map[string]int  `json:"c,omitempty"`
	Data    json.RawMessage `json:"x,omitempty"`
}

// Handler receives the events of other nodes, one at a time and in the
// order each node sent them. It must not block.
type Handler func(Event)

// Broker connects one relay node to the others. Safe for concurrent use;
// no method blocks on the network.
type Broker interface {
	// Node is this node's id, unique in the cluster.
	Node() string
	// Start begins delivering events to h; seq is read for every heartbeat.
	// Call it once, before anything else.
	Start(h Handler, seq func() uint64) error
	// Broadcast sends e to every other node.
	Broadcast(e Event) error
	// Send sends e to node.
	Send(node string, e Event) error
	// PublishFrame sends a live frame of device to the nodes that watch it.
	PublishFrame(device string, frame []byte) error
	// Watch and Unwatch start and stop delivery of device's frames here.
	Watch(device string)
	Unwatch(device string)
	// Dropped counts the messages this node could not send (queue full,
	// transport down) or that it lost on receipt (a slow consumer).
	Dropped() int64
	// Close stops the broker; other nodes see this one down.
	Close() error
}

// Timing of heartbeats: every node sends one every HeartbeatEvery and is
// taken for dead when none came for DeadAfter, so a dead node's devices
// show offline within DeadAfter plus one check.
const (
	HeartbeatEvery = 2 * time.Second
	DeadAfter      = 7 * time.Second
)

// liveness tracks when each other node was last heard from. Safe for
// concurrent use.
type liveness struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func newLiveness() *liveness { return &liveness{last: map[string]time.Time{}} }

// heard records that node is alive at now and reports whether it is new.
func (l *liveness) heard(node string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, known := l.last[node]
	l.last[node] = now
	return !known
}

// expired forgets and returns the nodes not heard from since now-after.
func (l *liveness) expired(now time.Time, after time.Duration) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var dead []string
	for n, t := range l.last {
		if now.Sub(t) > after {
			dead = append(dead, n)
			delete(l.last, n)
		}
	}
	return dead
}

// forgetAll forgets every node and returns them.
func (l *liveness) forgetAll() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var all []string
	for n := range l.last {
		all = append(all, n)
	}
	clear(l.last)
	return all
}
