// Command winsession drives package desktop's Windows session code for the
// tests that run it under Wine (session_wine_test.go). Each mode prints
// one JSON object on stdout; desktop's debug log goes to stderr.
//
//	volume [LEVEL|-] [on|off|-]   Volume with that change, then Unavailable()["volume"]
//	volume-steps                  read, 37, mute, 0 and unmute, in one process
//	clip-set HEX TIMEOUT_MS       SetClipboardText of the hex-encoded text
//	clip-get TIMEOUT_MS           ClipboardText
//	hold                          opens the clipboard, prints "held", closes it at a line on stdin
//	window                        ActiveWindowTitle
//	media ACTION                  Media, with a low-level keyboard hook recording the keys it sent
//	unavailable                   Unavailable()
package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/agent/desktop"
	"github.com/tether-desktop/tether/protocol"
)

// answer is what every mode prints.
type answer struct {
	Volume      []commands.VolumeState `json:"volume,omitempty"`
	Text        string                 `json:"text,omitempty"`
	Truncated   bool                   `json:"truncated,omitempty"`
	Method      string                 `json:"method,omitempty"`
	Keys        []string               `json:"keys,omitempty"`
	Unavailable map[string]string      `json:"unavailable,omitempty"`
	Error       *protocol.Error        `json:"error,omitempty"`
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := desktop.New(log)
	defer d.Close()
	var a answer
	var err error
	switch os.Args[1] {
	case "volume":
		var st commands.VolumeState
		st, err = d.Volume(context.Background(), change(os.Args[2], os.Args[3]))
		a.Volume = []commands.VolumeState{st}
		a.Unavailable = d.Unavailable()
	case "volume-steps":
		for _, ch := range [][2]string{{"-", "-"}, {"37", "-"}, {"-", "on"}, {"0", "off"}} {
			var st commands.VolumeState
			if st, err = d.Volume(context.Background(), change(ch[0], ch[1])); err != nil {
				break
			}
			a.Volume = append(a.Volume, st)
		}
	case "clip-set":
		text, herr := hex.DecodeString(os.Args[2])
		if herr != nil {
			panic(herr)
		}
		ctx, cancel := withTimeout(os.Args[3])
		defer cancel()
		err = d.SetClipboardText(ctx, string(text))
	case "clip-get":
		ctx, cancel := withTimeout(os.Args[2])
		defer cancel()
		a.Text, a.Truncated, err = d.ClipboardText(ctx)
	case "hold":
		hold()
		return
	case "window":
		a.Text, err = d.ActiveWindowTitle(context.Background())
	case "media":
		a.Method, a.Keys, err = mediaHooked(d, os.Args[2])
	case "unavailable":
		a.Unavailable = d.Unavailable()
	default:
		panic("unknown mode " + os.Args[1])
	}
	if err != nil {
		a.Error = protocol.AsError(err)
	}
	json.NewEncoder(os.Stdout).Encode(a)
}

// change reads a VolumeChange: a level or "-", and "on", "off" or "-".
func change(level, mute string) commands.VolumeChange {
	var ch commands.VolumeChange
	if level != "-" {
		n, err := strconv.Atoi(level)
		if err != nil {
			panic(err)
		}
		ch.Level = &n
	}
	if mute != "-" {
		m := mute == "on"
		ch.Mute = &m
	}
	return ch
}

func withTimeout(ms string) (context.Context, context.CancelFunc) {
	n, err := strconv.Atoi(ms)
	if err != nil {
		panic(err)
	}
	return context.WithTimeout(context.Background(), time.Duration(n)*time.Millisecond)
}

// hold keeps the clipboard open until a line arrives on stdin.
func hold() {
	release, err := openClipboardNow()
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	fmt.Println("held")
	bufio.NewReader(os.Stdin).ReadString('\n')
	release()
	fmt.Println("released")
}
