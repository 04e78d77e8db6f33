package protocol

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Argument types of an ArgSpec.
const (
	ArgInteger = "integer"
	ArgNumber  = "number"
	ArgString  = "string"
	ArgBoolean = "boolean"
	ArgURL     = "url" // a string that parses as an absolute URL with one of Schemes
)

// CommandSpec describes one command an agent allows and its arguments, in a
// small JSON-schema-like form. The agent advertises it in hello; the relay
// validates every command against the advertised spec, and the agent validates
// again against its own before it acts.
//
// Title and Description are for people: Title names the command on the
// control page (its heading and button; the page falls back to the name made
// readable), Description says in one line what it does. Both are optional and
// never change what is accepted.
type CommandSpec struct {
	Name        string    `json:"name"`
	Title       string    `json:"title,omitempty"`       // a short name, e.g. "Move pointer"
	Description string    `json:"description,omitempty"` // one line: what the command does
	Args        []ArgSpec `json:"args"`
	// TimeoutMS is how long the command may run on the device, for commands
	// that take longer than the relay's usual wait (an owner's backup
	// script): the relay then waits that long plus CommandWaitMargin, at
	// most MaxCommandWait. Zero: the relay's usual wait.
	TimeoutMS int `json:"timeout_ms,omitempty"`
}

// MaxCommandWait is the longest a relay waits for one command's result,
// whatever the command's TimeoutMS says.
const MaxCommandWait = 10 * time.Minute

// CommandWaitMargin is what a relay adds to a command's TimeoutMS for the
// way to the device and back.
const CommandWaitMargin = 5 * time.Second

// Wait is how long a relay waits for a result of this command: def, or the
// command's own TimeoutMS plus CommandWaitMargin when that is longer, at
// most MaxCommandWait.
func (s *CommandSpec) Wait(def time.Duration) time.Duration {
	if s == nil || s.TimeoutMS <= 0 {
		return def
	}
	return min(max(def, time.Duration(s.TimeoutMS)*time.Millisecond+CommandWaitMargin), MaxCommandWait)
}

// ArgSpec describes one argument of a command.
type ArgSpec struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"` // one of the Arg… constants
	Required bool     `json:"required,omitempty"`
	Min      *float64 `json:"min,omitempty"`     // numbers: smallest allowed value
	Max      *float64 `json:"max,omitempty"`     // numbers: largest allowed value
	MaxLen   int      `json:"max_len,omitempty"` // strings and URLs: most runes allowed
	Enum     []string `json:"enum,omitempty"`    // strings: the only values allowed
	Schemes  []string `json:"schemes,omitempty"` // URLs: the schemes allowed
	// ControlChars allows control characters other than tab and newline in a
	// string. Off by default.
	ControlChars bool `json:"control_chars,omitempty"`
	Default      any  `json:"default,omitempty"`
}

// maxExactInt is the largest integer a float64 (and a JavaScript number) holds exactly.
const maxExactInt = 1 << 53

// Float returns a pointer to f, for ArgSpec.Min and Max.
func Float(f float64) *float64 { return &f }

// Validate checks args (a JSON object, or empty for none) against s and
// returns the arguments with defaults filled in: integers as int64, numbers as
// float64, strings as string, booleans as bool. Unknown arguments are refused.
// Every refusal is an *Error with code invalid_args.
func (s *CommandSpec) Validate(args json.RawMessage) (map[string]any, error) {
	raw := map[string]json.RawMessage{}
	if !isNull(args) {
		if err := json.Unmarshal(args, &raw); err != nil {
			return nil, Errorf(CodeInvalidArgs, "args of %q must be a JSON object", s.Name)
		}
	}
	for name := range raw {
		if !slices.ContainsFunc(s.Args, func(a ArgSpec) bool { return a.Name == name }) {
			return nil, Errorf(CodeInvalidArgs, "%s: unknown argument %q", s.Name, truncate(name, 32))
		}
	}
	out := make(map[string]any, len(s.Args))
	for _, a := range s.Args {
		r, ok := raw[a.Name]
		if !ok || isNull(r) {
			if a.Required {
				return nil, Errorf(CodeInvalidArgs, "%s: argument %q is required", s.Name, a.Name)
			}
			if a.Default != nil {
				v, err := a.check(MustData(a.Default))
				if err != nil {
					return nil, Errorf(CodeInternal, "%s: default of %q: %v", s.Name, a.Name, err)
				}
				out[a.Name] = v
			}
			continue
		}
		v, err := a.check(r)
		if err != nil {
			return nil, Errorf(CodeInvalidArgs, "%s: argument %q %v", s.Name, a.Name, err)
		}
		out[a.Name] = v
	}
	return out, nil
}

func (a *ArgSpec) check(r json.RawMessage) (any, error) {
	switch a.Type {
	case ArgInteger, ArgNumber:
		var f float64
		if err := json.Unmarshal(r, &f); err != nil {
			return nil, fmt.Errorf("must be a number")
		}
		if a.Type == ArgInteger && f != math.Trunc(f) {
			return nil, fmt.Errorf("must be a whole number")
		}
		if a.Min != nil && f < *a.Min {
			return nil, fmt.Errorf("must be at least %g", *a.Min)
		}
		if a.Max != nil && f > *a.Max {
			return nil, fmt.Errorf("must be at most %g", *a.Max)
		}
		if a.Type == ArgInteger && math.Abs(f) > maxExactInt {
			return nil, fmt.Errorf("must be between -2^53 and 2^53")
		}
		if a.Type == ArgInteger {
			return int64(f), nil
		}
		return f, nil
	case ArgBoolean:
		var b bool
		if err := json.Unmarshal(r, &b); err != nil {
			return nil, fmt.Errorf("must be true or false")
		}
		return b, nil
	case ArgString, ArgURL:
		var s string
		if err := json.Unmarshal(r, &s); err != nil {
			return nil, fmt.Errorf("must be a string")
		}
		if a.MaxLen > 0 && utf8.RuneCountInString(s) > a.MaxLen {
			return nil, fmt.Errorf("is longer than %d characters", a.MaxLen)
		}
		if !a.ControlChars && strings.ContainsFunc(s, func(r rune) bool {
			return unicode.IsControl(r) && r != '\n' && r != '\t'
		}) {
			return nil, fmt.Errorf("contains control characters")
		}
		if len(a.Enum) > 0 && !slices.Contains(a.Enum, s) {
			return nil, fmt.Errorf("must be one of %s", strings.Join(a.Enum, ", "))
		}
		if a.Type == ArgURL {
			u, err := url.Parse(s)
			if err != nil || !u.IsAbs() || u.Hostname() == "" || !slices.Contains(a.Schemes, strings.ToLower(u.Scheme)) {
				return nil, fmt.Errorf("must be an absolute %s URL", strings.Join(a.Schemes, " or "))
			}
		}
		return s, nil
	default:
		return nil, fmt.Errorf("has unsupported type %q", a.Type)
	}
}

// FindCommand returns the spec named name in specs, or nil.
func FindCommand(specs []CommandSpec, name string) *CommandSpec {
	for i := range specs {
		if specs[i].Name == name {
			return &specs[i]
		}
	}
	return nil
}

// KnownCommands are the command names of the contract. A device that does
// not advertise one of them has it switched off (not_allowed); any other
// name is unknown_command.
var KnownCommands = []string{CommandBeep, CommandNotify, CommandScreenshot, CommandMouseMove,
	CommandMouseClick, CommandTypeText, CommandOpenURL, CommandLockScreen, CommandSleep,
	CommandVolume, CommandMedia, CommandClipboardGet, CommandClipboardSet, CommandReceiveFiles}

// IsKnownCommand reports whether name is one of KnownCommands.
func IsKnownCommand(name string) bool { return slices.Contains(KnownCommands, name) }
