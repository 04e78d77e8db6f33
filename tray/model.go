// Package tray is Tether's tray icon and menu. The menu is a pure model
// (Items: a Model in, menu items out) that unit tests check without a
// desktop; a Controller keeps a Model up to date from a running agent and
// carries out clicks; the binding to fyne.io/systray (Run) only mirrors the
// items and forwards clicks. The tray does no networking and reads no file
// of its own: it asks the agent, through the verbs of the Agent interface.
package tray

import (
	"fmt"
	"net/url"
	"time"

	"github.com/tether-desktop/tether/agent"
	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/assets"
	"github.com/tether-desktop/tether/protocol"
)

// Item ids. Commands have the id CommandPrefix + name.
const (
	IDStatus      = "status"
	IDError       = "error"
	IDPair        = "pair"
	IDCode        = "code"
	IDPaired      = "paired"
	IDUnpairAll   = "unpair_all"
	IDPause       = "pause"
	IDMouse       = "mouse"
	IDWindow      = "window_title"
	IDCommands    = "commands"
	IDOpenPage    = "open_page"
	IDActivity    = "activity"
	IDReceived    = "received_files"
	IDAutostart   = "autostart"
	IDQuit        = "quit"
	CommandPrefix = "command:"
	// A paired browser's submenu has the id BrowserPrefix + pairing id;
	// its Unpair item UnpairPrefix + pairing id, its address line
	// BrowserInfoPrefix + pairing id.
	BrowserPrefix     = "browser:"
	UnpairPrefix      = "unpair:"
	BrowserInfoPrefix = "browser_info:"
)

// Titles of the fixed items, as people see them (and tests find them).
const (
	TitlePair      = "Pair a browser…"
	TitleUnpairAll = "Unpair all"
	TitlePause     = "Pause"
	TitleMouse     = "Share mouse activity"
	TitleWindow    = "Share the active window's title"
	TitleCommands  = "Allowed commands"
	TitleOpenPage  = "Open control page"
	TitleActivity  = "Recent activity…"
	TitleReceived  = "Received files"
	TitleUnpair    = "Unpair"
	TitleAutostart = "Start at login"
	TitleQuit      = "Quit"
)

// Model is everything the menu shows. The zero value is a valid model of an
// agent that has not reported anything yet.
type Model struct {
	// Status is the agent's last snapshot.
	Status agent.Status
	// Commands lists every command the agent knows, in menu order, with
	// whether it is switched on.
	Commands []Command
	// Code is the last pairing code, shown until it expires.
	Code *agent.PairingCode
	// Paired is the number of paired browsers; negative when unknown.
	Paired int
	// Browsers are the paired browsers, oldest first, when the relay listed
	// them (nil otherwise: only the count is shown).
	Browsers []agent.PairedBrowser
	// Autostart says whether the tray can install the login service at
	// all (AutostartAvailable) and whether it is installed.
	AutostartAvailable, Autostart bool
	// Busy describes an action in progress ("Getting a pairing code…").
	Busy string
	// Err is the last failed action, shown until the next action.
	Err string
	// Now is the time the model describes (codes expire, retries count down).
	Now time.Time
}

// Command is one switchable command in the menu.
type Command struct {
	Name string
	On   bool
	// Custom marks one of the owner's commands from custom-commands.json.
	Custom bool
}

// Item is one menu entry. Separators have only an ID and Separator set.
type Item struct {
	ID        string
	Title     string
	Tooltip   string
	Separator bool
	Checkable bool
	Checked   bool
	Disabled  bool
	Hidden    bool
	Children  []Item
}

// commandTitles are the menu titles of the contract's commands; others show
// their name.
var commandTitles = map[string]string{
	protocol.CommandBeep:         "Beep",
	protocol.CommandNotify:       "Show notifications",
	protocol.CommandScreenshot:   "Take screenshots",
	protocol.CommandMouseMove:    "Move the pointer",
	protocol.CommandMouseClick:   "Click",
	protocol.CommandTypeText:     "Type text",
	protocol.CommandOpenURL:      "Open links",
	protocol.CommandLockScreen:   "Lock the screen",
	protocol.CommandSleep:        "Put to sleep",
	protocol.CommandVolume:       "Set the volume",
	protocol.CommandMedia:        "Media keys",
	protocol.CommandClipboardGet: "Read the clipboard",
	protocol.CommandClipboardSet: "Write the clipboard",
}

// CommandTitle is the menu title of command name.
func CommandTitle(name string) string {
	if t, ok := commandTitles[name]; ok {
		return t
	}
	return name
}

// relayHost is the host (and port) of the relay URL, for short lines.
func relayHost(relay string) string {
	u, err := url.Parse(relay)
	if err != nil || u.Host == "" {
		return relay
	}
	return u.Host
}

// registered reports whether the device has an identity on the relay.
func (m Model) registered() bool { return m.Status.DeviceID != "" }

// codeLive reports whether the pairing code is still valid.
func (m Model) codeLive() bool { return m.Code != nil && m.Now.Before(m.Code.ExpiresAt) }

// StatusLine is the first line of the menu: the connection in words.
func StatusLine(m Model) string {
	host := relayHost(m.Status.Relay)
	switch m.Status.State {
	case agent.StateConnected:
		return "Connected to " + host
	case agent.StateOffline:
		if !m.Status.NextRetry.IsZero() {
			if s := int(m.Status.NextRetry.Sub(m.Now).Round(time.Second) / time.Second); s > 0 {
				return fmt.Sprintf("Reconnecting in %d s…", s)
			}
		}
		return "Reconnecting…"
	case agent.StateUnauthorized:
		return "Not registered: " + host + " refused this computer"
	case agent.StateStopped:
		return "Stopped"
	case agent.StateConnecting, "":
		if !m.registered() {
			return "Not registered (registering with " + host + "…)"
		}
		return "Connecting to " + host + "…"
	}
	return m.Status.State
}

// IconState picks the icon: paused wins, then errors, then the connection.
func IconState(m Model) string {
	switch {
	case m.Status.Paused:
		return assets.IconPaused
	case m.Status.State == agent.StateUnauthorized || m.Status.State == agent.StateStopped:
		return assets.IconError
	case m.Status.State == agent.StateConnected:
		return assets.IconConnected
	}
	return assets.IconOffline
}

// Tooltip is the icon's tooltip: the product, the state and the pause.
func Tooltip(m Model) string {
	t := "Tether: " + StatusLine(m)
	if m.Status.Paused {
		t += " (paused)"
	}
	return t
}

// Items is the whole menu for m, always with the same items in the same
// order (only titles and flags change), so that a binding can create them
// once. It is a pure function.
func Items(m Model) []Item {
	paired := "Paired browsers: …"
	if m.Paired >= 0 {
		paired = fmt.Sprintf("Paired browsers: %d", m.Paired)
	}
	code := Item{ID: IDCode, Hidden: true}
	if m.codeLive() {
		code.Title = fmt.Sprintf("Code: %s (until %s)", m.Code.Code, m.Code.ExpiresAt.Local().Format("15:04"))
		code.Tooltip = "Click to open " + m.Code.URL
		code.Hidden = false
	}
	pairTip := "Get a pairing code and open the pairing page"
	if !m.registered() {
		pairTip = "Not registered with the relay yet"
	}
	cmds := make([]Item, 0, len(m.Commands))
	for _, c := range m.Commands {
		it := Item{
			ID: CommandPrefix + c.Name, Title: CommandTitle(c.Name), Tooltip: "Let paired browsers use " + c.Name,
			Checkable: true, Checked: c.On,
		}
		if c.Custom {
			it.Title = c.Name + " (custom)"
			it.Tooltip = "Let paired browsers run " + c.Name + " from " + commands.CustomFile
		}
		cmds = append(cmds, it)
	}
	browsers := make([]Item, 0, len(m.Browsers))
	for _, b := range m.Browsers {
		browsers = append(browsers, browserItem(b, m.Busy != "", m.Now))
	}
	status := Item{ID: IDStatus, Title: StatusLine(m), Disabled: true}
	if m.Busy != "" {
		status.Title += " · " + m.Busy
	}
	return []Item{
		status,
		{ID: IDError, Title: m.Err, Disabled: true, Hidden: m.Err == ""},
		{ID: "sep1", Separator: true},
		{ID: IDPair, Title: TitlePair, Tooltip: pairTip, Disabled: !m.registered() || m.Busy != ""},
		code,
		{ID: IDPaired, Title: paired, Disabled: len(browsers) == 0, Children: browsers,
			Tooltip: "Each paired browser, with Unpair"},
		{ID: IDUnpairAll, Title: TitleUnpairAll, Tooltip: "Every paired browser loses this computer at once",
			Disabled: !m.registered() || m.Paired == 0 || m.Busy != ""},
		{ID: "sep2", Separator: true},
		{ID: IDPause, Title: TitlePause, Tooltip: "No telemetry; every command is refused", Checkable: true, Checked: m.Status.Paused},
		{ID: IDMouse, Title: TitleMouse, Tooltip: "Send mouse clicks to paired browsers that watch", Checkable: true, Checked: m.Status.Mouse},
		{ID: IDWindow, Title: TitleWindow, Tooltip: "Show paired browsers that watch which window has the focus", Checkable: true, Checked: m.Status.WindowTitle},
		{ID: IDCommands, Title: TitleCommands, Children: cmds},
		{ID: "sep3", Separator: true},
		{ID: IDOpenPage, Title: TitleOpenPage, Tooltip: "Open " + m.Status.Relay},
		{ID: IDActivity, Title: TitleActivity, Tooltip: "Every command paired browsers sent this computer, in your browser"},
		{ID: IDReceived, Title: TitleReceived, Tooltip: "Open the folder where files sent from paired browsers are saved"},
		{ID: IDAutostart, Title: TitleAutostart, Checkable: true, Checked: m.Autostart, Hidden: !m.AutostartAvailable,
			Tooltip: "Start Tether when you log in"},
		{ID: IDQuit, Title: TitleQuit},
	}
}

// browserItem is the submenu of one paired browser: its name and when it
// was last seen, the address it paired from, and Unpair.
func browserItem(b agent.PairedBrowser, busy bool, now time.Time) Item {
	seen := "never seen since pairing"
	if b.LastSeen != nil {
		seen = "seen " + shortTime(*b.LastSeen, now)
	}
	info := "Paired " + shortTime(b.PairedAt, now)
	if b.Address != "" {
		info += " from " + b.Address
	}
	return Item{
		ID: BrowserPrefix + b.ID, Title: b.Name + " (" + seen + ")", Tooltip: "Pairing " + b.ID,
		Children: []Item{
			{ID: BrowserInfoPrefix + b.ID, Title: info, Disabled: true},
			{ID: UnpairPrefix + b.ID, Title: TitleUnpair, Tooltip: b.Name + " loses this computer at once", Disabled: busy},
		},
	}
}

// shortTime is a time in the menu: the hour on the day of now, the date
// otherwise.
func shortTime(t, now time.Time) string {
	t = t.Local()
	if y, mo, d := t.Date(); y == now.Local().Year() && mo == now.Local().Month() && d == now.Local().Day() {
		return "at " + t.Format("15:04")
	}
	return "on " + t.Format("2 Jan 2006")
}
