package desktop

// osascriptNotify is the AppleScript that shows a notification on macOS. It
// reads the title and body from its run handler's arguments, counting from
// the end, so the texts are never part of the script and an osascript that
// passed a literal "--" through to the handler would still show them right.
const osascriptNotify = `on run argv
display notification (item -1 of argv) with title (item -2 of argv)
end run`

// osascriptArgs returns the arguments for osascript that show a notification
// with title and body. The texts come after "--", so one that starts with "-"
// (say "-e" followed by `do shell script "…"`) is an argument of the script
// and never an option of osascript, whether it parses options the POSIX way
// (stopping at the first operand) or permutes them as getopt_long does.
func osascriptArgs(title, body string) []string {
	return []string{"-e", osascriptNotify, "--", title, body}
}
