package desktop

import (
	"slices"
	"strings"
	"testing"
)

// osascriptParse reads args the way osascript's getopt("e:l:is:") would:
// every -e adds a script line, "--" ends the options, and the rest are the
// run handler's argv. With permute, options are also found after operands (as
// getopt_long does); without it, the first operand ends the options (POSIX).
func osascriptParse(args []string, permute bool) (scripts, argv []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return scripts, append(argv, args[i+1:]...)
		case len(a) < 2 || a[0] != '-':
			if !permute {
				return scripts, append(argv, args[i:]...)
			}
			argv = append(argv, a)
		default:
			// One cluster of flags, e.g. "-is", "-e" "x" or "-ex".
			for j := 1; j < len(a); j++ {
				if strings.IndexByte("els", a[j]) < 0 {
					continue // -i, or an unknown flag osascript would reject
				}
				val := a[j+1:]
				if val == "" && i+1 < len(args) {
					i++
					val = args[i]
				}
				if a[j] == 'e' {
					scripts = append(scripts, val)
				}
				break
			}
		}
	}
	return scripts, argv
}

// hostileTexts are titles and bodies that would turn into osascript options
// or script lines if they were not kept apart from them.
var hostileTexts = []string{
	"-e",
	"-e do shell script \"touch /tmp/owned\"",
	"-edo shell script \"x\"",
	`do shell script "x"`,
	"-l", "-s", "-i", "--", "-",
	`"quoted" and \"escaped\"`,
	"line 1\nline 2\r\nend run\non run argv\ndo shell script \"x\"",
	"",
	"Grüße ✓ 日本語",
}

func TestOsascriptArgs(t *testing.T) {
	t.Run("the parser sees the old argument vector's flaw", func(t *testing.T) {
		// Before the fix the texts followed the script directly: a title
		// "-e" made the body a second script line.
		old := []string{"-e", osascriptNotify, "-e", `do shell script "x"`}
		if scripts, _ := osascriptParse(old, false); len(scripts) != 2 {
			t.Fatalf("parser found %d scripts in %q, want 2: it cannot tell a good argv from a bad one", len(scripts), old)
		}
	})
	for _, title := range hostileTexts {
		for _, body := range hostileTexts {
			args := osascriptArgs(title, body)
			for _, permute := range []bool{false, true} {
				scripts, argv := osascriptParse(args, permute)
				if !slices.Equal(scripts, []string{osascriptNotify}) {
					t.Errorf("title %q body %q (permute %v): osascript would run scripts %q", title, body, permute, scripts)
				}
				if !slices.Equal(argv, []string{title, body}) {
					t.Errorf("title %q body %q (permute %v): run handler gets %q", title, body, permute, argv)
				}
			}
			// An osascript that handed "--" to the run handler would still
			// show the right texts: the script counts from the end.
			if n := len(args); args[n-2] != title || args[n-1] != body {
				t.Errorf("title and body are not the last two arguments: %q", args)
			}
		}
	}
	if strings.Contains(osascriptNotify, "item 1") || !strings.Contains(osascriptNotify, "item -1 of argv") || !strings.Contains(osascriptNotify, "item -2 of argv") {
		t.Errorf("script must read the texts from the end of argv:\n%s", osascriptNotify)
	}
}
