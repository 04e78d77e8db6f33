package agent

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// quietPair returns a quietConn dialed to a loopback listener and the
// listener's end; both are closed when the test ends.
func quietPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	c, err := dialQuiet(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, ok := c.(*quietConn); !ok {
		t.Fatalf("dialQuiet gave a %T", c)
	}
	peer := <-accepted
	if peer == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { peer.Close() })
	return c, peer
}

// TestQuietConnActsAsNetConn: the relay's connection with raw reads and
// writes keeps net.Conn's behaviour: a large write arrives whole (through
// the waits of a full socket buffer), a read deadline is a timeout, the
// peer's close is io.EOF, a closed connection is net.ErrClosed.
func TestQuietConnActsAsNetConn(t *testing.T) {
	c, peer := quietPair(t)

	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB: more than the socket buffers hold
	got := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(io.LimitReader(peer, int64(len(big)))); got <- b }()
	if n, err := c.Write(big); n != len(big) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	select {
	case b := <-got:
		if !bytes.Equal(b, big) {
			t.Fatalf("the peer read %d bytes, not what was written", len(b))
		}
	case <-time.After(hangGuard):
		t.Fatal("the peer did not read the write")
	}

	if _, err := peer.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if n, err := io.ReadFull(c, buf[:4]); n != 4 || err != nil || string(buf[:4]) != "ping" {
		t.Fatalf("Read = %d %q, %v", n, buf[:n], err)
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := c.Read(buf)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past the deadline: %v", err)
	}
	c.SetReadDeadline(time.Time{})

	peer.Close()
	if _, err := c.Read(buf); err != io.EOF {
		t.Fatalf("Read after the peer closed: %v, want io.EOF", err)
	}
	c.Close()
	if _, err := c.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after Close: %v, want net.ErrClosed", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v, want net.ErrClosed", err)
	}
}

// TestQuietConnWriteDeadline: a write the peer does not take ends at the
// write deadline (armed only once the write waits), a deadline already
// past fails the write at once, and a cleared deadline lets writes wait.
func TestQuietConnWriteDeadline(t *testing.T) {
	c, peer := quietPair(t)

	c.SetWriteDeadline(time.Now().Add(-time.Second))
	if n, err := c.Write([]byte("x")); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write past the deadline = %d, %v", n, err)
	}
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	big := make([]byte, 64<<20) // far more than the socket buffers hold; the peer reads nothing
	n, err := c.Write(big)
	var ne net.Error
	if n == len(big) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Write to a peer that reads nothing = %d of %d, %v", n, len(big), err)
	}
	c.SetWriteDeadline(time.Time{})
	got := make(chan int64, 1)
	go func() { m, _ := io.Copy(io.Discard, io.LimitReader(peer, int64(n)+1<<20)); got <- m }()
	if m, err := c.Write(big[:1<<20]); m != 1<<20 || err != nil {
		t.Fatalf("Write with no deadline = %d, %v", m, err)
	}
	select {
	case <-got:
	case <-time.After(hangGuard):
		t.Fatal("the peer did not get the writes")
	}
}

// TestQuietTickerTicksAndStops: the kernel timer ticks after Reset, keeps
// ticking, and after Stop no tick is left waiting.
func TestQuietTickerTicksAndStops(t *testing.T) {
	tk, err := newQuietTicker()
	if err != nil {
		t.Fatal(err)
	}
	defer tk.close()
	tk.Reset(5 * time.Millisecond)
	for i := range 3 {
		select {
		case <-tk.C():
		case <-time.After(hangGuard):
			t.Fatalf("no tick %d", i)
		}
	}
	tk.Stop()
	select {
	case <-tk.C():
		t.Fatal("a tick left waiting after Stop")
	default:
	}
	tk.Reset(5 * time.Millisecond)
	select {
	case <-tk.C():
	case <-time.After(hangGuard):
		t.Fatal("no tick after Reset again")
	}
}
