package desktop

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"unicode/utf16"

	"github.com/tether-desktop/tether/protocol"
)

// notifier shows a Windows toast through Windows PowerShell and WinRT. The
// title and body travel in environment variables and become XML text nodes,
// never part of the script, so they cannot inject PowerShell or toast XML.
// The toast is shown as Tether's (appID) when the MSI's Start-menu shortcut,
// which carries that AppUserModelID, is there, else as Windows PowerShell's,
// whose ID every Windows 10 and 11 has; if Windows does not know Tether's,
// PowerShell's is used too.
type notifier struct{ log *slog.Logger }

func newNotifier(log *slog.Logger) *notifier { return &notifier{log: log} }

const toastScript = `$ErrorActionPreference = 'Stop'
[Windows.UI.Notifications.ToastNotificationManager, Windows.UI.Notifications, ContentType = WindowsRuntime] > $null
$xml = [Windows.UI.Notifications.ToastNotificationManager]::GetTemplateContent([Windows.UI.Notifications.ToastTemplateType]::ToastText02)
$texts = $xml.GetElementsByTagName('text')
$texts.Item(0).AppendChild($xml.CreateTextNode($env:TETHER_NOTIFY_TITLE)) > $null
$texts.Item(1).AppendChild($xml.CreateTextNode($env:TETHER_NOTIFY_BODY)) > $null
try {
  $notifier = [Windows.UI.Notifications.ToastNotificationManager]::CreateToastNotifier($env:TETHER_NOTIFY_APP)
  $setting = $notifier.Setting
} catch {
  $notifier = [Windows.UI.Notifications.ToastNotificationManager]::CreateToastNotifier('` + powerShellAppID + `')
  $setting = $notifier.Setting
}
if ($setting -ne [Windows.UI.Notifications.NotificationSetting]::Enabled) { throw "toasts are switched off: $setting" }
$notifier.Show([Windows.UI.Notifications.ToastNotification]::new($xml))
[Console]::Out.Write('` + toastShown + `')`

// appID is Tether's AppUserModelID, set on the Start-menu shortcut by the
// MSI (installer/tether-aumid.idt).
const appID = "Tether.Agent"

// powerShellAppID is Windows PowerShell's AppUserModelID.
const powerShellAppID = `{1AC14E77-02E7-4E5D-B744-2EB1AE5198B7}\WindowsPowerShell\v1.0\powershell.exe`

// toastApp is the AppUserModelID to show toasts as: Tether's when its
// Start-menu shortcut is there.
func toastApp() string {
	if dir, err := os.UserConfigDir(); err == nil { // %APPDATA%
		if _, err := os.Stat(filepath.Join(dir, "Microsoft", "Windows", "Start Menu", "Programs", "Tether.lnk")); err == nil {
			return appID
		}
	}
	return powerShellAppID
}

// toastShown is what the script prints once Show returned: PowerShell's exit
// status alone proves nothing (a stub or a policy that skips the script
// exits 0 too).
const toastShown = "tether-toast-shown"

// createNoWindow keeps PowerShell from flashing a console window.
const createNoWindow = 0x08000000

func (n *notifier) notify(ctx context.Context, title, body string) error {
	if why := n.check(ctx); why != "" {
		return protocol.Errorf(protocol.CodeUnavailable, "%s", why)
	}
	cmd := exec.CommandContext(ctx, "powershell.exe", "-NoProfile", "-NonInteractive", "-EncodedCommand", encodePS(toastScript))
	cmd.Env = append(os.Environ(), "TETHER_NOTIFY_TITLE="+title, "TETHER_NOTIFY_BODY="+body, "TETHER_NOTIFY_APP="+toastApp())
	cmd.SysProcAttr = &syscall.SysProcAttr{HideWindow: true, CreationFlags: createNoWindow}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("powershell toast: %w: %s", err, bytes.TrimSpace(out))
	}
	if !bytes.Contains(out, []byte(toastShown)) {
		return protocol.Errorf(protocol.CodeUnavailable, "no toast was shown (PowerShell exited without showing it: %q)", bytes.TrimSpace(out))
	}
	return nil
}

func (n *notifier) check(context.Context) string {
	if _, err := exec.LookPath("powershell.exe"); err != nil {
		return fmt.Sprintf("no Windows PowerShell: %v", err)
	}
	return ""
}

// encodePS encodes a script for -EncodedCommand: UTF-16LE in base64.
func encodePS(script string) string {
	u := utf16.Encode([]rune(script))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i], b[2*i+1] = byte(c), byte(c>>8)
	}
	return base64.StdEncoding.EncodeToString(b)
}
