package server

import (
	"github.com/tether-desktop/tether/protocol"
	"github.com/tether-desktop/tether/relay/broker"
	"github.com/tether-desktop/tether/relay/store"
)

// agentFrame is the broker event that carries a relay → agent frame (a
// "pairing" notice) to the node holding the device's agent: Device names
// the device, Data is the frame. It is declared here rather than in package
// broker because only this file makes and reads it; brokers pass any kind.
const agentFrame broker.Kind = "agent_frame"

// pairedBrowser is what the device's owner sees of pairing p.
func pairedBrowser(p store.Pairing) protocol.PairedBrowser {
	out := protocol.PairedBrowser{ID: p.ID, Name: p.Name, Address: p.Address, PairedAt: p.CreatedAt.UTC()}
	if !p.LastSeen.IsZero() {
		t := p.LastSeen.UTC()
		out.LastSeen = &t
	}
	return out
}

// pairingNotice tells the agent of p's device that a browser paired with
// it: a "pairing" frame to the agent, on this node or (through the broker)
// on the node that holds it. An offline device is not told. It never
// blocks: the frame is queued.
func (h *hub) pairingNotice(p store.Pairing) {
	frame := encode(&protocol.Message{Type: protocol.TypePairing, Device: p.DeviceID,
		TS: protocol.Timestamp(h.cfg.Now()), Data: protocol.MustData(pairedBrowser(p))})
	h.mu.Lock()
	defer h.mu.Unlock()
	hello, node := h.ownerLocked(p.DeviceID)
	switch {
	case hello == nil:
		return
	case node == h.node:
		if a := h.agents[p.DeviceID]; a != nil {
			a.send(frame)
		}
	default:
		if err := h.br.Send(node, broker.Event{Kind: agentFrame, Device: p.DeviceID, Data: frame}); err != nil {
			h.log.Warn("pairing notice to another node", "device", p.DeviceID, "node", node, "err", err)
		}
	}
}

// onAgentFrameLocked passes a frame another node sent for an agent held
// here (see agentFrame) to that agent. Only "pairing" frames pass. mu held.
func (h *hub) onAgentFrameLocked(e broker.Event) {
	a := h.agents[e.Device]
	if a == nil {
		return
	}
	m, err := protocol.Decode(e.Data)
	if err != nil || m.Type != protocol.TypePairing || m.Device != e.Device {
		h.log.Warn("refused a frame for an agent from another node", "device", e.Device)
		return
	}
	a.send(e.Data)
}
