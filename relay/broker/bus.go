package broker

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Bus is the in-process broker: the nodes made by one Bus share it in one
// process. A relay of one node uses a Bus with that node alone, where
// nothing crosses; tests run several nodes on one Bus. Safe for concurrent
// use.
type Bus struct {
	mu    sync.Mutex
	nodes map[string]*busNode
}

// NewBus returns an empty Bus.
func NewBus() *Bus { return &Bus{nodes: map[string]*busNode{}} }

// busQueue bounds the events waiting for one node's handler.
const busQueue = 8192

// Node joins a node named id to the bus and returns its Broker.
func (b *Bus) Node(id string) Broker {
	n := &busNode{bus: b, id: id, inbox: make(chan Event, busQueue), watch: map[string]bool{},
		live: newLiveness(), stop: make(chan struct{})}
	b.mu.Lock()
	b.nodes[id] = n
	b.mu.Unlock()
	return n
}

// busNode is one node of a Bus.
type busNode struct {
	bus   *Bus
	id    string
	inbox chan Event
	live  *liveness
	stop  chan struct{}
	once  sync.Once

	dropped atomic.Int64 // events this node could not take (inbox full)

	mu      sync.Mutex
	watch   map[string]bool // devices whose frames this node wants
	started bool
	closed  bool
}

func (n *busNode) Node() string { return n.id }

func (n *busNode) Dropped() int64 { return n.dropped.Load() }

func (n *busNode) Start(h Handler, seq func() uint64) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.started {
		return fmt.Errorf("broker node %s: already started", n.id)
	}
	n.started = true
	go func() {
		for {
			select {
			case <-n.stop:
				return
			case e := <-n.inbox:
				if e.From != "" && e.Kind != NodeDown {
					n.live.heard(e.From, time.Now())
				}
				h(e)
			}
		}
	}()
	go func() {
		t := time.NewTicker(HeartbeatEvery / 4)
		defer t.Stop()
		last := time.Time{}
		for {
			select {
			case <-n.stop:
				return
			case now := <-t.C:
				if now.Sub(last) >= HeartbeatEvery {
					last = now
					n.Broadcast(Event{Kind: Heartbeat, Seq: seq()})
				}
				for _, dead := range n.live.expired(now, DeadAfter) {
					n.deliver(Event{Kind: NodeDown, From: dead})
				}
			}
		}
	}()
	return nil
}

// deliver queues e for this node's handler, or drops it when the queue is full.
func (n *busNode) deliver(e Event) bool {
	n.mu.Lock()
	closed := n.closed
	n.mu.Unlock()
	if closed {
		return false
	}
	select {
	case n.inbox <- e:
		return true
	default:
		n.dropped.Add(1)
		return false
	}
}

// others returns the other nodes of the bus.
func (n *busNode) others() []*busNode {
	n.bus.mu.Lock()
	defer n.bus.mu.Unlock()
	out := make([]*busNode, 0, len(n.bus.nodes))
	for id, o := range n.bus.nodes {
		if id != n.id {
			out = append(out, o)
		}
	}
	return out
}

func (n *busNode) Broadcast(e Event) error {
	e.From = n.id
	for _, o := range n.others() {
		o.deliver(e)
	}
	return nil
}

func (n *busNode) Send(node string, e Event) error {
	e.From = n.id
	n.bus.mu.Lock()
	o := n.bus.nodes[node]
	n.bus.mu.Unlock()
	if o != nil && o != n && !o.deliver(e) {
		return ErrUnavailable
	}
	return nil // like NATS: a message to a node that is gone is lost
}

func (n *busNode) PublishFrame(device string, frame []byte) error {
	for _, o := range n.others() {
		o.mu.Lock()
		want := o.watch[device]
		o.mu.Unlock()
		if want {
			o.deliver(Event{Kind: Frame, From: n.id, Device: device, Data: frame})
		}
	}
	return nil
}

func (n *busNode) Watch(device string) {
	n.mu.Lock()
	n.watch[device] = true
	n.mu.Unlock()
}

func (n *busNode) Unwatch(device string) {
	n.mu.Lock()
	delete(n.watch, device)
	n.mu.Unlock()
}

// Close leaves the bus: the other nodes see this one down after DeadAfter.
func (n *busNode) Close() error {
	n.once.Do(func() {
		n.bus.mu.Lock()
		delete(n.bus.nodes, n.id)
		n.bus.mu.Unlock()
		n.mu.Lock()
		n.closed = true
		n.mu.Unlock()
		close(n.stop)
	})
	return nil
}
