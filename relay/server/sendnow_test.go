//go:build unix

package server

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// loopbackPair returns both ends of a TCP connection on loopback, the
// server's wrapped as the relay wraps an upgraded socket.
func loopbackPair(t *testing.T) (*batchConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(); client.Close() })
	return &batchConn{Conn: srv, raw: rawOf(srv)}, client
}

// smallBufferPair returns both ends of a Unix stream socket pair, the
// server's wrapped as the relay wraps an upgraded socket, with a small send
// buffer: a client that does not read fills it within a few frames, and a
// write that finds part of the room it needs takes part of the frame (a
// TCP socket on loopback seldom does: its segments are 64 KB).
func smallBufferPair(t *testing.T) (*batchConn, net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) net.Conn {
		f := os.NewFile(uintptr(fd), "socketpair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	srv, client := conn(fds[0]), conn(fds[1])
	srv.(*net.UnixConn).SetWriteBuffer(8192)
	t.Cleanup(func() { srv.Close(); client.Close() })
	return &batchConn{Conn: srv, raw: rawOf(srv)}, client
}

// readServerFrame reads one unmasked final frame as the relay writes it.
func readServerFrame(r *bufio.Reader) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	if h[0]&0x80 == 0 || h[1]&0x80 != 0 {
		return 0, nil, fmt.Errorf("header %x: not a final unmasked frame", h)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		_, err = io.ReadFull(r, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		_, err = io.ReadFull(r, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	if err != nil {
		return 0, nil, err
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(r, payload)
	return h[0] & 0x0f, payload, err
}

// TestSendNowKeepsOrderWhenTheSocketFills sends frames with sendNow to a
// client that does not read until the socket's buffers are full: written
// at once while they fit, in part (the rest owed to the writer) when one
// fits only in part, queued for the writer when nothing fits. The client
// then reads every frame, whole and in order.
func TestSendNowKeepsOrderWhenTheSocketFills(t *testing.T) {
	out, client := smallBufferPair(t)
	p := newPeer(out, "client", 10000, 64<<20, newMetrics(), time.Hour, 10*time.Second)
	const frames = 120
	var sawOwed, sawQueued bool
	for i := range frames {
		frame := []byte(fmt.Sprintf(`{"type":"result","id":"c%d","pad":"%s"}`, i, bytes.Repeat([]byte{'x'}, 20000+i*7)))
		if !p.sendNow(frame) {
			t.Fatalf("frame %d refused", i)
		}
		sawOwed = sawOwed || out.owing()
		p.mu.Lock()

		sawQueued = sawQueued || len(p.queue) > 0
		p.mu.Unlock()
	}
	if !sawOwed || !sawQueued {
		t.Errorf("the socket never filled as the test needs: part of a frame owed %v, frames queued %v", sawOwed, sawQueued)
	}
	client.SetReadDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(client)
	for i := range frames {
		op, payload, err := readServerFrame(r)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		want := fmt.Sprintf(`{"type":"result","id":"c%d","pad":"%s"}`, i, bytes.Repeat([]byte{'x'}, 20000+i*7))
		if op != opText || string(payload) != want {
			at := 0
			for at < min(len(payload), len(want)) && payload[at] == want[at] {
				at++
			}
			t.Fatalf("frame %d: op %d, %d bytes, %q from byte %d; want a text frame of %d bytes, %q there",
				i, op, len(payload), payload[at:min(at+20, len(payload))], at, len(want), want[at:min(at+20, len(want))])
		}
	}
}

// TestSendNowWritesAtOnceWhenIdle checks the fast path itself: an idle
// socket gets the frame before sendNow returns, with no writer started.
func TestSendNowWritesAtOnceWhenIdle(t *testing.T) {
	out, client := loopbackPair(t)
	p := newPeer(out, "client", 16, 1<<20, newMetrics(), time.Hour, 10*time.Second)
	// An earlier write's deadline, long past, must not refuse this one.
	out.SetWriteDeadline(time.Now().Add(-time.Second))
	frame := []byte(`{"type":"result","id":"c1","ok":true}`)
	if !p.sendNow(frame) {
		t.Fatal("refused")
	}
	p.mu.Lock()
	writing, queued := p.writing, len(p.queue)
	p.mu.Unlock()
	if writing || queued != 0 {
		t.Fatalf("after sendNow on an idle socket: writer running %v, %d queued; want it written at once", writing, queued)
	}
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, payload, err := readServerFrame(bufio.NewReader(client)); err != nil || !bytes.Equal(payload, frame) {
		t.Fatalf("read %q, %v; want %q", payload, err, frame)
	}
}
