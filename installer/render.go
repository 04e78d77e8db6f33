package installer

import (
	"fmt"
	"html"
	"strings"
	"unicode"
)

// Check refuses a Config whose executable path, relay or config directory
// holds a control character (C0, DEL or C1) or a line or paragraph
// separator. Every file rendered here is read line by line: a newline in
// --relay or --config-dir would end the ExecStart= or Exec= line and start a
// directive of the caller's choosing (ExecStartPre=/bin/sh …), and the plist
// and registry value have no use for such characters either. New and
// Unattended call it; the error names the field.
func (c Config) Check() error {
	for _, f := range []struct{ name, value string }{
		{"executable path", c.Exe}, {"relay (--relay)", c.Relay}, {"config directory (--config-dir)", c.ConfigDir},
	} {
		if i := strings.IndexFunc(f.value, func(r rune) bool {
			return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
		}); i >= 0 {
			return fmt.Errorf("installer: the %s %q holds a control character or line break at byte %d; refusing to write it into a start-up entry",
				f.name, f.value, i)
		}
	}
	return nil
}

// SystemdUnit renders the systemd user unit: started with the graphical
// session (so it has DISPLAY and the session bus), restarted when it fails.
func SystemdUnit(c Config) string {
	return fmt.Sprintf(`# Installed by "tether install"; "tether uninstall" removes it.
[Unit]
Description=Tether desktop agent
Documentation=https://github.com/tether-desktop/tether
PartOf=graphical-session.target
After=graphical-session.target

[Service]
Type=simple
ExecStart=%s
Restart=on-failure
RestartSec=5s

[Install]
WantedBy=graphical-session.target
`, systemdCommand(c.Exe, c.Args()))
}

// systemdCommand quotes a command line for ExecStart.
func systemdCommand(exe string, args []string) string {
	parts := []string{systemdQuote(exe)}
	for _, a := range args {
		parts = append(parts, systemdQuote(a))
	}
	return strings.Join(parts, " ")
}

func systemdQuote(s string) string {
	s = strings.NewReplacer("%", "%%", "$", "$$").Replace(s)
	if s != "" && !strings.ContainsAny(s, " \t\"'\\;") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// DesktopEntry renders the XDG autostart entry (also shipped by the .deb).
func DesktopEntry(c Config) string {
	parts := []string{desktopQuote(c.Exe)}
	for _, a := range c.Args() {
		parts = append(parts, desktopQuote(a))
	}
	return fmt.Sprintf(`[Desktop Entry]
Type=Application
Name=Tether
Comment=Keep this computer connected to its Tether relay
Exec=%s
Icon=tether
Terminal=false
Categories=Network;RemoteAccess;
X-GNOME-Autostart-enabled=true
`, strings.Join(parts, " "))
}

// desktopQuote quotes one argument of an Exec line (Desktop Entry
// Specification, "The Exec key").
func desktopQuote(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	if s != "" && !strings.ContainsAny(s, " \t\n\"'\\><~|&;$*?#()`") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "`", "\\`", `$`, `\$`).Replace(s) + `"`
}

// LaunchAgentPlist renders the macOS LaunchAgent: started at login, in the
// user's GUI session, restarted when it fails but not after a clean exit
// (Quit in the tray).
func LaunchAgentPlist(c Config) string {
	var args strings.Builder
	for _, a := range append([]string{c.Exe}, c.Args()...) {
		fmt.Fprintf(&args, "\n\t\t<string>%s</string>", html.EscapeString(a))
	}
	return fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>%s</string>
	<key>ProgramArguments</key>
	<array>%s
	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<dict>
		<key>SuccessfulExit</key>
		<false/>
	</dict>
	<key>ProcessType</key>
	<string>Interactive</string>
	<key>LimitLoadToSessionType</key>
	<string>Aqua</string>
</dict>
</plist>
`, AgentLabel, args.String())
}

// WindowsRunCommand is the command line stored in the Run value.
func WindowsRunCommand(c Config) string {
	parts := []string{windowsQuote(c.Exe)}
	for _, a := range c.Args() {
		parts = append(parts, windowsQuote(a))
	}
	return strings.Join(parts, " ")
}

// windowsQuote quotes one argument the way CommandLineToArgvW reads it.
func windowsQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"") {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	slashes := 0
	for _, r := range s {
		switch r {
		case '\\':
			slashes++
			continue
		case '"':
			b.WriteString(strings.Repeat(`\`, 2*slashes+1))
		default:
			b.WriteString(strings.Repeat(`\`, slashes))
		}
		slashes = 0
		b.WriteRune(r)
	}
	b.WriteString(strings.Repeat(`\`, 2*slashes))
	b.WriteByte('"')
	return b.String()
}

// WindowsRunReg renders the Windows autostart entry as a .reg file: what
// Install writes into the registry (and what a person could import).
func WindowsRunReg(c Config) string {
	v := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(WindowsRunCommand(c))
	return fmt.Sprintf("Windows Registry Editor Version 5.00\r\n\r\n[%s]\r\n\"%s\"=\"%s\"\r\n", RunKey, RunValue, v)
}
