package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestChildRefusesFanoutWithoutAllClients runs a load-generator child (its
// real code, over pipes) against Tether's relay in this process, with 2
// agents and 2 clients of one session watching both, and checks that the
// fan-out is taken as valid only while every client is open and every agent
// is told both watch it: not once a device is unpaired (its agent is told 0
// watchers), nor once the relay has closed the clients (before, a closed
// client still counted as up and the bench reported its figure).
func TestChildRefusesFanoutWithoutAllClients(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang guard only
	defer cancel()
	tg := &inprocTarget{data: t.TempDir()}
	if err := tg.start(ctx); err != nil {
		t.Fatal(err)
	}
	defer tg.stop()
	api := &relayAPI{base: "http://" + tg.addr(), nextAddr: 100}
	devs, err := api.devices(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := api.pairAll(ctx, devs)
	if err != nil {
		t.Fatal(err)
	}
	spec := childSpec{FrameBytes: 200, Conc: 2}
	for _, d := range devs {
		spec.Agents = append(spec.Agents, childAgent{Dev: d, Addrs: []string{tg.addr()}})
		spec.Clients = append(spec.Clients, childClient{Addr: tg.addr(), Token: sess.Token})
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ended := make(chan error, 1)
	go func() { ended <- runChild(inR, outW); outW.Close() }()
	defer func() { inW.Close(); <-ended }()
	out := bufio.NewReader(outR)
	enc := json.NewEncoder(inW)
	if err := enc.Encode(spec); err != nil {
		t.Fatal(err)
	}
	ask := func() childReply {
		t.Helper()
		if err := enc.Encode(childCmd{}); err != nil {
			t.Fatal(err)
		}
		line, err := out.ReadBytes('\n')
		if err != nil {
			t.Fatal(err)
		}
		var r childReply
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	// until waits (bounded) for the child's reply to make fanValid say want
	// ("" for valid).
	until := func(what, want string) childReply {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; {
			r := ask()
			err := fanValid(r, 2)
			if (want == "" && err == nil) || (want != "" && err != nil && strings.Contains(err.Error(), want)) {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: reply %+v: fanValid = %v, want %q", what, r, err, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	until("all connected", "")

	req, _ := http.NewRequest("DELETE", api.base+"/api/v1/pairings/"+devs[0].ID, nil)
	req.Header.Set("Authorization", "Bearer "+sess.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("unpair: %s", resp.Status)
	}
	until("a device unpaired", "told 0 watchers")

	tg.stop() // closes every socket
	if r := until("the relay gone", "2 closed"); r.Clients != 0 {
		t.Fatalf("the relay gone: %+v: want no client counted open", r)
	}
}
