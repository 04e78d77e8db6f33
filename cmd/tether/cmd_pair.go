package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"time"

	"github.com/tether-desktop/tether/agent"
)

// credentials returns this computer's credentials for the relay,
// registering first when there are none.
func (c *cli) credentials(ctx context.Context) (agent.Credentials, error) {
	creds, registered, err := agent.EnsureCredentials(ctx, c.http, c.configDir, c.relayURL(), c.enrollToken,
		agent.Device{Name: c.deviceName(), OS: runtime.GOOS})
	if err != nil {
		if agent.IsUnauthorized(err) {
			return creds, fmt.Errorf("%w (is --enroll-token or TETHER_ENROLL_TOKEN right?)", err)
		}
		return creds, err
	}
	if registered {
		fmt.Fprintf(c.stderr, "Registered this computer with %s as device %s.\n", creds.Relay, creds.DeviceID)
	}
	return creds, nil
}

func (c *cli) pair(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, args[0])
	}
	creds, err := c.credentials(ctx)
	if err != nil {
		return err
	}
	p, err := agent.RequestPairingCode(ctx, c.http, creds)
	if agent.IsUnauthorized(err) {
		// The relay forgot this device: register again, as the agent would.
		fmt.Fprintln(c.stderr, "The relay no longer knows this computer; registering again.")
		if err := agent.RemoveCredentials(c.configDir); err != nil {
			return err
		}
		if creds, err = c.credentials(ctx); err != nil {
			return err
		}
		p, err = agent.RequestPairingCode(ctx, c.http, creds)
	}
	if err != nil {
		return err
	}
	if _, running := c.runningAgent(); !running {
		fmt.Fprintf(c.stderr, "No Tether agent runs with the settings in %s: the browser will see this computer offline until `tether run` starts it.\n", c.configDir)
	}
	if c.json {
		return writeJSON(c.stdout, map[string]string{
			"code": p.Code, "url": p.URL, "expires_at": p.ExpiresAt.UTC().Format(time.RFC3339),
		})
	}
	mins := int(time.Until(p.ExpiresAt).Round(time.Minute) / time.Minute)
	fmt.Fprintf(c.stdout, "Pairing code: %s  (valid for %d minutes, until %s)\n\n", p.Code, mins, p.ExpiresAt.Local().Format("15:04"))
	fmt.Fprintf(c.stdout, "On the phone or computer that should control this one, open\n  %s\nor scan:\n\n", p.URL)
	return writeQR(c.stdout, p.URL)
}

func (c *cli) unpairAll(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, args[0])
	}
	relay := c.relayURL()
	creds, err := agent.LoadCredentials(c.configDir)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !creds.Valid(relay)) {
		return fmt.Errorf("this computer is not registered with %s: no browser is paired", relay)
	}
	if err != nil {
		return err
	}
	if err := agent.UnpairAll(ctx, c.http, creds); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, "Every browser paired with this computer has lost access.")
	return nil
}
