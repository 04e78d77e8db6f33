//go:build linux

package desktop

// Reaching an X server: where DISPLAY points, the cookie that lets us in
// (from the Xauthority file), and the connection setup of a raw connection
// (the RECORD data stream, which xgb cannot read). The connection is
// dialled here rather than by xgb so that its socket is ours to put
// deadlines on and to close.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// xAddress is where a DISPLAY value points.
type xAddress struct {
	network, address string // for net.Dial
	abstract         string // the abstract socket of a local display, tried first; or ""
	host             string // "" for this machine
	number           string // the display number
	screen           int
}

// parseDisplay reads a DISPLAY value: [[protocol/]host]:number[.screen], or
// a socket path ending in :number.
func parseDisplay(name string) (xAddress, error) {
	colon := strings.LastIndex(name, ":")
	if colon < 0 {
		return xAddress{}, fmt.Errorf("bad DISPLAY %q: no display number", name)
	}
	var a xAddress
	head, tail := name[:colon], name[colon+1:]
	a.number = tail
	if dot := strings.IndexByte(tail, '.'); dot >= 0 {
		a.number = tail[:dot]
		n, err := strconv.Atoi(tail[dot+1:])
		if err != nil || n < 0 {
			return xAddress{}, fmt.Errorf("bad DISPLAY %q: bad screen number", name)
		}
		a.screen = n
	}
	n, err := strconv.Atoi(a.number)
	if err != nil || n < 0 {
		return xAddress{}, fmt.Errorf("bad DISPLAY %q: bad display number", name)
	}
	proto := ""
	switch {
	case strings.HasPrefix(head, "/"): // a socket path (as launchd hands out)
		a.network, a.address = "unix", head+":"+a.number
		return a, nil
	case strings.Contains(head, "/"):
		slash := strings.LastIndex(head, "/")
		proto, a.host = head[:slash], head[slash+1:]
	default:
		a.host = head
	}
	if a.host == "" || a.host == "unix" || proto == "unix" {
		a.host = ""
		a.network, a.address = "unix", "/tmp/.X11-unix/X"+a.number
		a.abstract = "@" + a.address
		return a, nil
	}
	if proto == "" || proto == "inet" || proto == "inet6" {
		proto = "tcp"
	}
	a.network = proto
	a.address = net.JoinHostPort(strings.Trim(a.host, "[]"), strconv.Itoa(6000+n))
	return a, nil
}

// dialX connects to the X server of DISPLAY name within timeout and returns
// the socket and the MIT-MAGIC-COOKIE-1 that the Xauthority file holds for
// it (nil when none).
func dialX(name string, timeout time.Duration) (net.Conn, xAddress, []byte, error) {
	a, err := parseDisplay(name)
	if err != nil {
		return nil, a, nil, err
	}
	d := net.Dialer{Timeout: timeout}
	var nc net.Conn
	if a.abstract != "" {
		nc, err = d.Dial("unix", a.abstract)
	}
	if nc == nil {
		nc, err = d.Dial(a.network, a.address)
	}
	if err != nil {
		return nil, a, nil, err
	}
	return nc, a, xauthCookie(a), nil
}

// Xauthority families (X11/Xauth.h).
const (
	familyLocal = 256
	familyWild  = 65535
)

// xauthCookie returns the MIT-MAGIC-COOKIE-1 for a in the file named by
// XAUTHORITY (or ~/.Xauthority), or nil when there is none: the server may
// then let us in without one.
func xauthCookie(a xAddress) []byte {
	file := os.Getenv("XAUTHORITY")
	if file == "" {
		home := os.Getenv("HOME")
		if home == "" {
			return nil
		}
		file = home + "/.Xauthority"
	}
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	host := a.host
	if host == "" || host == "localhost" {
		host, _ = os.Hostname()
	}
	r := bufio.NewReader(f)
	for {
		var family uint16
		if binary.Read(r, binary.BigEndian, &family) != nil {
			return nil
		}
		var fields [4][]byte // address, display number, auth name, auth data
		for i := range fields {
			var n uint16
			if binary.Read(r, binary.BigEndian, &n) != nil {
				return nil
			}
			fields[i] = make([]byte, n)
			if _, err := io.ReadFull(r, fields[i]); err != nil {
				return nil
			}
		}
		addrOK := family == familyWild || (family == familyLocal && string(fields[0]) == host)
		numOK := len(fields[1]) == 0 || string(fields[1]) == a.number
		if addrOK && numOK && string(fields[2]) == "MIT-MAGIC-COOKIE-1" && len(fields[3]) == 16 {
			return fields[3]
		}
	}
}

// xSetup does the connection setup on a raw connection, in little-endian
// byte order, and returns the base of the resource ids the server gave us.
// The caller bounds it with a deadline on nc.
func xSetup(nc net.Conn, cookie []byte) (idBase uint32, err error) {
	name := ""
	if cookie != nil {
		name = "MIT-MAGIC-COOKIE-1"
	}
	req := make([]byte, 12, 12+pad4(len(name))+pad4(len(cookie)))
	req[0] = 'l' // little-endian
	binary.LittleEndian.PutUint16(req[2:], 11)
	binary.LittleEndian.PutUint16(req[6:], uint16(len(name)))
	binary.LittleEndian.PutUint16(req[8:], uint16(len(cookie)))
	req = append(req, padded([]byte(name))...)
	req = append(req, padded(cookie)...)
	if _, err := nc.Write(req); err != nil {
		return 0, err
	}
	head := make([]byte, 8)
	if _, err := io.ReadFull(nc, head); err != nil {
		return 0, err
	}
	body := make([]byte, 4*int(binary.LittleEndian.Uint16(head[6:])))
	if _, err := io.ReadFull(nc, body); err != nil {
		return 0, err
	}
	if head[0] != 1 {
		reason := body[:min(int(head[1]), len(body))]
		if head[0] == 2 {
			reason = body
		}
		return 0, fmt.Errorf("the X server refused the connection: %s", strings.TrimRight(string(reason), "\x00"))
	}
	if len(body) < 12 {
		return 0, errors.New("the X server's connection setup is too short")
	}
	return binary.LittleEndian.Uint32(body[4:]), nil
}

// pad4 rounds n up to a multiple of 4, the X protocol's unit.
func pad4(n int) int { return (n + 3) &^ 3 }

func padded(b []byte) []byte { return append(b[:len(b):len(b)], make([]byte, pad4(len(b))-len(b))...) }
