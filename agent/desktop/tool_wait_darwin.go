package desktop

// awaitExit does nothing on macOS: Wait waits (tool_wait_linux.go parks in
// the poller first).
func awaitExit(pid int) {}
