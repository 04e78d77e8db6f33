package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/tether-desktop/tether/agent"
)

// unpair forgets one paired browser: `tether unpair ID`, an id from
// `tether browsers`. Its open sockets lose this computer at once.
func (c *cli) unpair(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%w: give exactly one pairing id (see `tether browsers`)", errUsage)
	}
	creds, err := c.registered()
	if err != nil {
		return err
	}
	err = agent.UnpairBrowser(ctx, c.http, creds, args[0])
	var apiErr *agent.APIError
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
		return fmt.Errorf("no browser is paired with the id %q (see `tether browsers`)", args[0])
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "The browser paired as %s has lost access to this computer.\n", args[0])
	return nil
}
