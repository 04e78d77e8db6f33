package tray

import (
	"errors"
	"fmt"
	"os"

	"github.com/godbus/dbus/v5"
)

// SessionBusAvailable reports why the tray cannot start here, or nil: the
// tray needs a D-Bus session bus that answers (DBUS_SESSION_BUS_ADDRESS set,
// the bus reachable, authentication and Hello accepted). It blocks for at
// most one round trip to the bus.
func SessionBusAvailable() error {
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		return errors.New("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)")
	}
	conn, err := dbus.SessionBusPrivate()
	if err != nil {
		return fmt.Errorf("D-Bus session bus: %w", err)
	}
	defer conn.Close()
	if err := conn.Auth(nil); err != nil {
		return fmt.Errorf("D-Bus session bus: auth: %w", err)
	}
	if err := conn.Hello(); err != nil {
		return fmt.Errorf("D-Bus session bus: hello: %w", err)
	}
	return nil
}
