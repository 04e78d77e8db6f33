package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"text/tabwriter"
	"time"

	"github.com/tether-desktop/tether/agent"
)

// registered returns this computer's credentials for the relay without
// registering: a computer that is not registered has no paired browser.
func (c *cli) registered() (agent.Credentials, error) {
	relay := c.relayURL()
	creds, err := agent.LoadCredentials(c.configDir)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !creds.Valid(relay)) {
		return creds, fmt.Errorf("this computer is not registered with %s: no browser is paired", relay)
	}
	return creds, err
}

// browsers lists the browsers paired with this computer: `tether browsers
// [--json]`.
func (c *cli) browsers(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, args[0])
	}
	creds, err := c.registered()
	if err != nil {
		return err
	}
	list, err := agent.ListPairedBrowsers(ctx, c.http, creds)
	if err != nil {
		return err
	}
	if c.json {
		return writeJSON(c.stdout, list)
	}
	if len(list) == 0 {
		fmt.Fprintln(c.stdout, "No browser is paired with this computer. `tether pair` pairs one.")
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tADDRESS\tPAIRED\tLAST SEEN")
	for _, b := range list {
		seen := "never"
		if b.LastSeen != nil {
			seen = when(*b.LastSeen)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", b.ID, b.Name, b.Address, when(b.PairedAt), seen)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, "\n`tether unpair ID` forgets one of them; `tether unpair-all` forgets them all.")
	return nil
}

// when formats a time for people, in local time.
func when(t time.Time) string { return t.Local().Format("2006-01-02 15:04") }
