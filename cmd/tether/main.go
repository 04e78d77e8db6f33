// Command tether is Tether's desktop agent: it keeps this computer connected
// to a relay so that paired browsers can watch it and send it the commands
// its owner allows. Run `tether help` for its commands.
package main

import "os"

// Set at build time with
// -ldflags "-X main.version=… -X main.commit=… -X main.date=…".
var (
	version = "dev"
	commit  = "unknown"
	date    = "unknown"
)

func main() {
	attachConsole()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
