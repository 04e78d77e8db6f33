package server

import "time"

// writerIdle is how long a goroutine of the writers' pool waits for the
// next peer to write for before it ends.
const writerIdle = time.Second

// writers runs the peers' writers (peer.writeOut). A writer runs only while
// its peer has something to write, so a busy socket starts one many times a
// second; a goroutine started for each would begin on the smallest stack
// and grow it (morestack, copystack) every time, about 6 % of the relay's
// CPU in the 100 → 20 fan-out. The pool's goroutines keep their stacks
// from one writer to the next instead, and end after writerIdle without
// work, so an idle relay keeps none.
var writers = writerPool{work: make(chan *peer)}

// writerPool hands writers to idle goroutines of its own, or starts one.
type writerPool struct {
	work chan *peer // unbuffered: a send succeeds only into an idle goroutine
}

// run runs p's writer on an idle goroutine of the pool, or on a new one
// when none is idle. It never blocks.
func (w *writerPool) run(p *peer) {
	select {
	case w.work <- p:
	default:
		go w.serve(p)
	}
}

// serve runs p's writer, then the writers handed to it, until none came
// for writerIdle. The writers share its scratch list of frames.
func (w *writerPool) serve(p *peer) {
	idle := time.NewTimer(writerIdle)
	defer idle.Stop()
	var scratch [][]byte
	for {
		p.writeOut(&scratch)
		p = nil // not kept alive while idle
		idle.Reset(writerIdle)
		select {
		case p = <-w.work:
		case <-idle.C:
			return
		}
	}
}
