package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tether-desktop/tether/protocol"
	"github.com/tether-desktop/tether/tray"
)

// TestTrayPairedBrowsersOverDBus runs the real tray on a private session
// bus against a real relay: the Paired browsers submenu lists two browsers
// by name, each with Unpair; Unpair on one forgets it on the relay while
// the other stays; Recent activity… opens the activity page. A
// notification service on the same bus (with buttons) sees each pairing
// announced with Unpair, which unpairs the browser when clicked, and each
// file received with Open and Show in folder, which open the file and its
// folder; Received files in the menu opens the folder too.
func TestTrayPairedBrowsersOverDBus(t *testing.T) {
	if !inPrivateBus(t, "TestTrayPairedBrowsersOverDBus") {
		return
	}
	conn, w := watchTrays(t)
	notes := serveNotifications(t, conn)
	relay := startRelay(t, freeAddr(t), t.TempDir())
	home := t.TempDir()
	inbox := filepath.Join(home, "Downloads", "Tether")
	bin := filepath.Join(home, "bin")
	opened := filepath.Join(home, "opened.txt")
	os.MkdirAll(bin, 0o755)
	if err := os.WriteFile(filepath.Join(bin, "xdg-open"), fmt.Appendf(nil, "#!/bin/sh\necho \"$1\" >> %q\n", opened), 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"HOME=" + home, "DISPLAY=", "TETHER_CONFIG_DIR=", "TETHER_RELAY=", "TETHER_AGENT_RELAY=",
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"XDG_DOWNLOAD_DIR=" + filepath.Dir(inbox), "WAYLAND_DISPLAY=tether-e2e"} // a session to open files in
	configDir := filepath.Join(home, "tether")
	_, tether := binaries(t)
	start(t, "agent", env, tether, "--config-dir", configDir, "--relay", relay.url, "run")
	cli := &agentProc{proc: &proc{t: t}, configDir: configDir, env: env, relayURL: relay.url}

	var item string
	waitFor(t, "RegisterStatusNotifierItem", func() bool {
		if r := w.registered(); len(r) > 0 {
			item = r[0]
			return true
		}
		return false
	})
	sender, _, _ := strings.Cut(item, " ")
	p := &trayPeer{t: t, conn: conn, dest: sender}
	p.waitItem("Connected to ")
	p.layout() // systray answers its first GetLayout one level deep only

	// Pair two browsers with the tray's code flow (the tray reads the
	// paired browsers every few seconds while a code is shown).
	last := ""
	var curlToken, device string
	for _, ua := range []string{androidUA, "curl/8.5.0"} {
		p.click(tray.TitlePair)
		var code string
		waitFor(t, "a new code in the menu", func() bool {
			code, _, _ = strings.Cut(strings.TrimPrefix(p.waitItem("Code: ").label(), "Code: "), " ")
			return code != last
		})
		last = code
		curlToken, device = pairWithUA(t, relay.url, code, ua)
	}
	p.waitItem("Paired browsers: 2")
	p.waitItem("Chrome on Android (never seen since pairing)")
	p.waitItem("curl (")
	waitFor(t, "the address a browser paired from", func() bool {
		for _, l := range p.layout().labels() {
			if strings.HasPrefix(strings.TrimSpace(l), "Paired ") && strings.HasSuffix(l, " from 127.0.0.1") {
				return true
			}
		}
		return false
	})

	// The first Unpair in the menu is the phone's (the submenu comes before
	// "Unpair all").
	p.click(tray.TitleUnpair)
	p.waitItem("Paired browsers: 1")
	out, err := cli.cli("browsers", "--json")
	var left []protocol.PairedBrowser
	if err != nil || json.Unmarshal([]byte(out), &left) != nil || len(left) != 1 || left[0].Name != "curl" {
		t.Fatalf("the relay's paired browsers after Unpair: %q %v", out, err)
	}
	if _, ok := p.layout().find("Chrome on Android"); ok {
		t.Error("the unpaired browser is still in the menu")
	}

	p.click(tray.TitleActivity)
	var link string
	waitFor(t, "the activity page opened", func() bool {
		b, _ := os.ReadFile(opened)
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if strings.HasPrefix(l, "file://") {
				link = l
			}
		}
		return link != ""
	})
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(u.Path)
	if err != nil || !strings.Contains(string(page), "Recent activity on this computer") {
		t.Fatalf("activity page %s: %v", u.Path, err)
	}

	notificationButtons(t, notes, cli, relay.url, curlToken, device, inbox, opened)
	p.click(tray.TitleReceived)
	waitFor(t, "Received files opened", func() bool {
		b, _ := os.ReadFile(opened)
		return strings.Contains(string(b), "file://"+inbox+"\n")
	})
}

const androidUA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36"
