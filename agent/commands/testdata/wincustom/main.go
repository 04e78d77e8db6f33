// Command wincustom runs one owner-defined command the way the agent does
// (commands.RunCustom), for the tests that run the Windows build under
// Wine: argv[1] is the CustomDef as JSON, argv[2] its arguments as JSON. It
// prints {"result":…} or {"error":…} on stdout. Its other modes are the
// programs such a command runs: "echo-args" prints each argument on a line
// of its own, "flood" writes 3 MB to stdout and 300 kB to stderr, "spawn"
// starts "hang MARKER" as a child and hangs too, "hang" sleeps.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/protocol"
)

func main() {
	switch os.Args[1] {
	case "echo-args":
		for _, a := range os.Args[2:] {
			fmt.Printf("[%s]\n", a)
		}
		return
	case "flood":
		line := strings.Repeat("y", 99) + "\n"
		for range 30000 {
			os.Stdout.WriteString(line)
		}
		for range 3000 {
			os.Stderr.WriteString(line)
		}
		os.Exit(7)
	case "spawn":
		child := exec.Command(os.Args[0], "hang", os.Args[2])
		if err := child.Start(); err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
		fmt.Println("started")
		time.Sleep(time.Hour)
		return
	case "hang":
		time.Sleep(time.Hour)
		return
	}
	var def commands.CustomDef
	if err := json.Unmarshal([]byte(os.Args[1]), &def); err != nil {
		fmt.Println(`{"error":{"code":"bad_def"}}`)
		return
	}
	spec := def.Spec()
	args, err := spec.Validate(json.RawMessage(os.Args[2]))
	out := map[string]any{}
	if err == nil {
		var res commands.CustomResult
		if res, err = commands.RunCustom(context.Background(), def, args); err == nil {
			out["result"] = res
		}
	}
	if err != nil {
		out["error"] = protocol.AsError(err)
	}
	json.NewEncoder(os.Stdout).Encode(out)
}
