package broker

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Subjects: one for every node, one per node, one per device for frames.
const (
	subjectAll    = "tether.all"
	subjectNode   = "tether.node."
	subjectDevice = "tether.dev."
)

// natsQueue bounds the messages waiting to be published, and natsInbox the
// messages received and waiting for the handler (beyond it NATS drops them
// and reports a slow consumer).
const (
	natsQueue = 8192
	natsInbox = 16384
)

// NATS is the broker over a NATS server (or cluster of them). Publishing
// goes through a bounded queue to one goroutine, so callers never wait on
// the network; while the connection is down every send fails at once with
// ErrUnavailable (nothing is buffered for later). Safe for concurrent use.
type NATS struct {
	id   string
	nc   *nats.Conn
	log  *slog.Logger
	live *liveness

	out   chan outMsg    // to the publisher goroutine
	in    chan *nats.Msg // from every subscription, in arrival order
	local chan Event     // events of the broker itself, for the handler
	kick  chan struct{}  // the wanted device subscriptions changed
	stop  chan struct{}
	once  sync.Once
	done  sync.WaitGroup

	mu      sync.Mutex
	want    map[string]bool               // devices whose frames are wanted here
	subs    map[string]*nats.Subscription // device subscriptions held
	started bool

	dropped atomic.Int64 // see Dropped
}

// outMsg is one message waiting to be published.
type outMsg struct {
	subject string
	data    []byte
}

// ConnectNATS connects node id to the NATS servers at urls (comma-separated
// lists allowed). It fails when none answers now; later losses of the
// connection are retried for ever.
func ConnectNATS(urls []string, id string, log *slog.Logger) (*NATS, error) {
	if len(urls) == 0 {
		return nil, fmt.Errorf("connect to NATS: no URL")
	}
	if !validToken(id) {
		return nil, fmt.Errorf("connect to NATS: node id %q is not a valid subject token", id)
	}
	b := &NATS{id: id, log: log, live: newLiveness(),
		out: make(chan outMsg, natsQueue), in: make(chan *nats.Msg, natsInbox), local: make(chan Event, 64),
		kick: make(chan struct{}, 1), stop: make(chan struct{}),
		want: map[string]bool{}, subs: map[string]*nats.Subscription{}}
	nc, err := nats.Connect(strings.Join(urls, ","),
		nats.Name("tether-relay "+id),
		nats.NoEcho(),
		nats.ReconnectBufSize(-1), // fail fast while down: nothing is held for later
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, 100*time.Millisecond),
		nats.Timeout(2*time.Second),
		nats.PingInterval(2*time.Second),
		nats.MaxPingsOutstanding(2),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("NATS connection lost", "err", err)
			b.deliverLink(Event{Kind: Disconnected})
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("NATS connection back", "server", c.ConnectedUrlRedacted())
			b.deliverLink(Event{Kind: Reconnected})
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if err == nats.ErrSlowConsumer {
				b.dropped.Add(1)
				return
			}
			log.Warn("NATS error", "err", err)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", strings.Join(urls, ","), err)
	}
	b.nc = nc
	return b, nil
}

// validToken reports whether s can be one token of a NATS subject.
func validToken(s string) bool {
	return s != "" && len(s) <= 128 && !strings.ContainsAny(s, ". *>\t\r\n")
}

func (b *NATS) Node() string { return b.id }

func (b *NATS) Dropped() int64 { return b.dropped.Load() }

func (b *NATS) Start(h Handler, seq func() uint64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started {
		return fmt.Errorf("NATS broker %s: already started", b.id)
	}
	b.started = true
	for _, subj := range []string{subjectAll, subjectNode + b.id} {
		sub, err := b.nc.ChanSubscribe(subj, b.in)
		if err != nil {
			return fmt.Errorf("subscribe to %s: %w", subj, err)
		}
		sub.SetPendingLimits(natsInbox, 64<<20)
	}
	b.done.Add(2)
	go b.dispatch(h)
	go b.publish(seq)
	return nil
}

// dispatch hands received messages and the broker's own events to h, one
// at a time.
func (b *NATS) dispatch(h Handler) {
	defer b.done.Done()
	for {
		select {
		case <-b.stop:
			return
		case e := <-b.local:
			h(e)
		case m := <-b.in:
			if dev, ok := strings.CutPrefix(m.Subject, subjectDevice); ok {
				h(Event{Kind: Frame, Device: dev, Data: m.Data})
				continue
			}
			var e Event
			if err := json.Unmarshal(m.Data, &e); err != nil || e.From == "" || e.From == b.id {
				continue
			}
			// Any message shows its node alive, so that a node is tracked
			// (and its death noticed) from the first word it says.
			if b.live.heard(e.From, time.Now()) {
				b.log.Info("relay node up", "node", e.From)
			}
			h(e)
		}
	}
}

// publish sends queued messages and heartbeats, keeps the device
// subscriptions as wanted and reports nodes that went silent.
func (b *NATS) publish(seq func() uint64) {
	defer b.done.Done()
	hb := time.NewTicker(HeartbeatEvery)
	defer hb.Stop()
	check := time.NewTicker(time.Second)
	defer check.Stop()
	beat := func() {
		if data, err := json.Marshal(Event{Kind: Heartbeat, From: b.id, Seq: seq()}); err == nil {
			b.nc.Publish(subjectAll, data)
		}
	}
	beat()
	for {
		select {
		case <-b.stop:
			return
		case m := <-b.out:
			if err := b.nc.Publish(m.subject, m.data); err != nil {
				b.dropped.Add(1)
			}
		case <-hb.C:
			beat()
		case now := <-check.C:
			for _, dead := range b.live.expired(now, DeadAfter) {
				b.log.Warn("relay node silent: taken for dead", "node", dead, "after", DeadAfter)
				b.deliverLocal(Event{Kind: NodeDown, From: dead})
			}
		case <-b.kick:
			b.syncSubs()
		}
	}
}

// syncSubs subscribes to the frames of wanted devices and unsubscribes
// from the rest. Run by the publisher goroutine only.
func (b *NATS) syncSubs() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for dev := range b.want {
		if b.subs[dev] == nil {
			sub, err := b.nc.ChanSubscribe(subjectDevice+dev, b.in)
			if err != nil {
				b.log.Warn("subscribe to a device's frames", "device", dev, "err", err)
				continue
			}
			b.subs[dev] = sub
		}
	}
	for dev, sub := range b.subs {
		if !b.want[dev] {
			sub.Unsubscribe()
			delete(b.subs, dev)
		}
	}
}

// deliverLocal queues an event of the broker itself for the handler.
func (b *NATS) deliverLocal(e Event) {
	select {
	case b.local <- e:
	default:
		b.dropped.Add(1)
	}
}

// deliverLink queues a change of the connection (Disconnected,
// Reconnected) for the handler, waiting for room until the broker stops:
// unlike other events it is never dropped, since a hub that missed
// Reconnected would take the link for down, and refuse to send across, for
// ever. Called from nats.go's callback goroutine, which may wait.
func (b *NATS) deliverLink(e Event) {
	select {
	case b.local <- e:
	case <-b.stop:
	}
}

// enqueue hands a message to the publisher, or fails at once.
func (b *NATS) enqueue(subject string, data []byte) error {
	if !b.nc.IsConnected() {
		b.dropped.Add(1)
		return ErrUnavailable
	}
	select {
	case b.out <- outMsg{subject, data}:
		return nil
	default:
		b.dropped.Add(1)
		return ErrUnavailable
	}
}

func (b *NATS) send(subject string, e Event) error {
	e.From = b.id
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", e.Kind, err)
	}
	return b.enqueue(subject, data)
}

func (b *NATS) Broadcast(e Event) error { return b.send(subjectAll, e) }

func (b *NATS) Send(node string, e Event) error {
	if !validToken(node) {
		return fmt.Errorf("send to node %q: not a valid node id", node)
	}
	return b.send(subjectNode+node, e)
}

func (b *NATS) PublishFrame(device string, frame []byte) error {
	if !validToken(device) {
		return fmt.Errorf("publish a frame of %q: not a valid device id", device)
	}
	return b.enqueue(subjectDevice+device, frame)
}

func (b *NATS) Watch(device string)   { b.setWant(device, true) }
func (b *NATS) Unwatch(device string) { b.setWant(device, false) }

func (b *NATS) setWant(device string, on bool) {
	if !validToken(device) {
		return
	}
	b.mu.Lock()
	if on {
		b.want[device] = true
	} else {
		delete(b.want, device)
	}
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// closeDrain bounds how long Close waits for queued messages (the last
// presence of a node that stops) to go out.
const closeDrain = 2 * time.Second

// Close sends what is queued (waiting at most closeDrain), stops the
// goroutines and closes the connection; it blocks until they are gone.
func (b *NATS) Close() error {
	b.once.Do(func() {
		for deadline := time.Now().Add(closeDrain); len(b.out) > 0 && b.nc.IsConnected() && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		close(b.stop)
		b.done.Wait()
		if b.nc.IsConnected() {
			b.nc.FlushTimeout(closeDrain)
		}
		b.nc.Close()
	})
	return nil
}
