//go:build unix

package rawio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// pair returns two ends of a loopback TCP connection and the raw side of a.
func pair(t *testing.T) (a, b net.Conn, raw syscall.RawConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() { c, _ := ln.Accept(); accepted <- c }()
	a, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b = <-accepted
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	raw, err = a.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return a, b, raw
}

func TestReadWaitsThenSeesEOF(t *testing.T) {
	_, b, raw := pair(t)
	go func() {
		time.Sleep(50 * time.Millisecond) // Read must wait for it
		b.Write([]byte("hello"))
		b.Close()
	}()
	var got []byte
	buf := make([]byte, 3)
	for {
		n, err := Read(raw, buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if n == 0 {
			t.Fatal("Read returned 0 bytes and no error")
		}
	}
	if string(got) != "hello" {
		t.Fatalf("read %q, want hello", got)
	}
}

func TestReadKeepsTheDeadline(t *testing.T) {
	a, _, raw := pair(t)
	a.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	if _, err := Read(raw, make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past the deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	a.Close()
	if _, err := Read(raw, make([]byte, 8)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read of a closed socket: %v, want net.ErrClosed", err)
	}
}

func TestTryWriteStopsAtAFullBufferAndWriteWaits(t *testing.T) {
	a, b, raw := pair(t)
	a.(*net.TCPConn).SetWriteBuffer(4096)
	b.(*net.TCPConn).SetReadBuffer(4096)
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	var sent int
	for i := 0; ; i++ {
		n, err := TryWrite(raw, chunk)
		sent += n
		if errors.Is(err, syscall.EAGAIN) {
			if n != 0 {
				t.Fatalf("TryWrite took %d bytes and said EAGAIN", n)
			}
			break
		}
		if err != nil {
			t.Fatalf("TryWrite: %v", err)
		}
		if i > 10000 {
			t.Fatal("the socket never filled")
		}
	}
	// Write waits for the reader to make room, then writes all of it.
	want := sent + len(chunk)
	done := make(chan error, 1)
	go func() { _, err := Write(raw, chunk); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("Write returned before the reader read (err %v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	got, err := io.ReadFull(b, make([]byte, want))
	if err != nil || got != want {
		t.Fatalf("read %d of %d bytes: %v", got, want, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Write: %v", err)
	}
}
