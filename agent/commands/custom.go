package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

// CustomFile is the file in the config directory where the owner declares
// custom commands: a JSON array of CustomDef.
const CustomFile = "custom-commands.json"

// Limits of custom-commands.json.
const (
	MaxCustomCommands = 32               // commands in the file (hello holds 64 in all)
	MaxCustomFileSize = 256 << 10        // bytes of the file
	MaxCustomArgv     = 64               // elements of one argv
	MaxCustomArgs     = 16               // declared arguments of one command
	DefaultCustomLen  = 256              // max_len of a string argument that declares none
	MaxCustomLen      = 4096             // largest max_len of a string argument
	DefaultCustomWait = 30 * time.Second // timeout of a command that declares none
	MaxCustomWait     = 10 * time.Minute // largest timeout_ms allowed
	MaxCustomSpecs    = 40 << 10         // bytes of all custom specs in hello (whose data is at most 64 KiB)
	customRate        = 2                // runs per second of one custom command
	customBurst       = 4                // runs at once when its bucket is full
	customGrace       = 5 * time.Second  // the dispatcher's deadline beyond the command's own
	customKillWait    = 2 * time.Second  // how long output pipes are waited for after the kill or exit
	customNameRule    = "1 to 64 of a-z, 0-9, _ and -, starting with a letter"
	customTitleRule   = "a title of at most 64 bytes of printable text"
)

// CustomDef is one owner-defined command as written in custom-commands.json.
type CustomDef struct {
	// Name is the command's name on the wire: customNameRule, and not the
	// name of a built-in command.
	Name string `json:"name"`
	// Title names it on the control page; Description says what it does.
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	// Argv is the program and its arguments. The program is an absolute
	// path or a name looked up in /usr/bin and /bin. An element that is
	// exactly "{name}" is replaced by the validated argument name (and left
	// out when that argument is optional and absent); no other expansion
	// happens, and no shell runs.
	Argv []string `json:"argv"`
	// Args declares the arguments, as in a CommandSpec: types string,
	// integer, number, boolean; strings bounded by max_len.
	Args []protocol.ArgSpec `json:"args,omitempty"`
	// TimeoutMS bounds a run; the whole process group is killed past it.
	// Zero means DefaultCustomWait; at most MaxCustomWait.
	TimeoutMS int `json:"timeout_ms,omitempty"`
}

// Timeout is how long one run of c may take.
func (c CustomDef) Timeout() time.Duration {
	if c.TimeoutMS <= 0 {
		return DefaultCustomWait
	}
	return time.Duration(c.TimeoutMS) * time.Millisecond
}

// Spec is the command's spec as advertised in hello.
func (c CustomDef) Spec() protocol.CommandSpec {
	args := c.Args
	if args == nil {
		args = []protocol.ArgSpec{}
	}
	return protocol.CommandSpec{Name: c.Name, Title: c.Title, Description: c.Description, Args: args,
		TimeoutMS: int(c.Timeout().Milliseconds())}
}

var (
	customName  = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)
	placeholder = regexp.MustCompile(`\{[A-Za-z0-9_-]*\}`)
)

// LoadCustom reads custom-commands.json in dir and checks it with
// ParseCustom. A missing file is no commands and no error.
func LoadCustom(dir string, builtin func(name string) bool) ([]CustomDef, error) {
	data, err := ReadCustomFile(dir)
	if err != nil || data == nil {
		return nil, err
	}
	return ParseCustomFile(data, builtin)
}

// ReadCustomFile returns the bytes of custom-commands.json in dir, nil
// (and no error) when there is no such file, or an error when it cannot be
// read or is larger than MaxCustomFileSize.
func ReadCustomFile(dir string) ([]byte, error) {
	f, err := os.Open(filepath.Join(dir, CustomFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", CustomFile, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxCustomFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", CustomFile, err)
	}
	if len(data) > MaxCustomFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", CustomFile, MaxCustomFileSize)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

// ParseCustomFile is ParseCustom with the file's name in its errors.
func ParseCustomFile(data []byte, builtin func(name string) bool) ([]CustomDef, error) {
	defs, err := ParseCustom(data, builtin)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", CustomFile, err)
	}
	return defs, nil
}

// ParseCustom parses and checks the text of custom-commands.json: a JSON
// array of CustomDef, unknown fields refused. builtin reports the names of
// the built-in commands (and the whitelist's other words), which a custom
// command may not take. Every refusal names the command and the rule.
func ParseCustom(data []byte, builtin func(name string) bool) ([]CustomDef, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var defs []CustomDef
	if err := dec.Decode(&defs); err != nil {
		return nil, fmt.Errorf("not a JSON array of commands: %v", err)
	}
	if dec.More() {
		return nil, errors.New("text after the JSON array")
	}
	if len(defs) > MaxCustomCommands {
		return nil, fmt.Errorf("%d commands; at most %d", len(defs), MaxCustomCommands)
	}
	seen := map[string]bool{}
	for i := range defs {
		d := &defs[i]
		if err := checkCustom(d, builtin); err != nil {
			if d.Name == "" || !customName.MatchString(d.Name) {
				return nil, fmt.Errorf("command %d: %w", i+1, err)
			}
			return nil, fmt.Errorf("command %q: %w", d.Name, err)
		}
		if seen[d.Name] {
			return nil, fmt.Errorf("command %q is declared twice", d.Name)
		}
		seen[d.Name] = true
	}
	specs := make([]protocol.CommandSpec, 0, len(defs))
	for _, d := range defs {
		specs = append(specs, d.Spec())
	}
	if n := len(protocol.MustData(specs)); n > MaxCustomSpecs {
		return nil, fmt.Errorf("the commands' specs take %d bytes in hello; at most %d (fewer args or shorter enums)", n, MaxCustomSpecs)
	}
	return defs, nil
}

// checkCustom checks one definition and fills in its defaults.
func checkCustom(d *CustomDef, builtin func(string) bool) error {
	switch {
	case !customName.MatchString(d.Name):
		return fmt.Errorf("name %q: must be %s", protocol.CleanText(d.Name, 80), customNameRule)
	case builtin(d.Name) || protocol.IsKnownCommand(d.Name):
		return fmt.Errorf("name clashes with a built-in command")
	case len(d.Title) > protocol.MaxShortTextLen || !protocol.IsDisplayText(d.Title):
		return fmt.Errorf("title: must be %s", customTitleRule)
	case len(d.Description) > protocol.MaxDescriptionLen || !protocol.IsDisplayText(d.Description):
		return fmt.Errorf("description: at most %d bytes of printable text", protocol.MaxDescriptionLen)
	case len(d.Argv) == 0:
		return errors.New("argv is empty: name the program to run")
	case len(d.Argv) > MaxCustomArgv:
		return fmt.Errorf("argv has more than %d elements", MaxCustomArgv)
	case len(d.Args) > MaxCustomArgs:
		return fmt.Errorf("more than %d args", MaxCustomArgs)
	case d.TimeoutMS < 0 || time.Duration(d.TimeoutMS)*time.Millisecond > MaxCustomWait:
		return fmt.Errorf("timeout_ms must be between 1 and %d (0 means %d)", MaxCustomWait.Milliseconds(), DefaultCustomWait.Milliseconds())
	}
	declared := map[string]bool{}
	for i := range d.Args {
		a := &d.Args[i]
		if err := checkCustomArg(a); err != nil {
			return fmt.Errorf("arg %q: %w", protocol.CleanText(a.Name, 40), err)
		}
		if declared[a.Name] {
			return fmt.Errorf("arg %q is declared twice", a.Name)
		}
		declared[a.Name] = true
	}
	prog := d.Argv[0]
	if prog == "" || placeholder.MatchString(prog) {
		return errors.New("argv[0] must name the program itself, without {placeholders}")
	}
	if (strings.ContainsRune(prog, '/') || filepath.Base(prog) != prog) && !filepath.IsAbs(prog) {
		return fmt.Errorf("argv[0] %q must be an absolute path or a bare name found in %s", prog, cleanPath)
	}
	for i, el := range d.Argv {
		if strings.ContainsRune(el, 0) {
			return fmt.Errorf("argv[%d] contains a NUL byte", i)
		}
		m := placeholder.FindString(el)
		if m == "" {
			continue
		}
		if m != el {
			return fmt.Errorf("argv[%d] %q: a {placeholder} must be a whole argv element", i, el)
		}
		if !declared[el[1:len(el)-1]] {
			return fmt.Errorf("argv[%d] %q names no declared arg", i, el)
		}
	}
	return nil
}

// checkCustomArg checks one declared argument and bounds its strings.
func checkCustomArg(a *protocol.ArgSpec) error {
	if !customName.MatchString(a.Name) {
		return fmt.Errorf("name must be %s", customNameRule)
	}
	if !slices.Contains([]string{protocol.ArgString, protocol.ArgInteger, protocol.ArgNumber, protocol.ArgBoolean}, a.Type) {
		return fmt.Errorf("type %q: must be string, integer, number or boolean", protocol.CleanText(a.Type, 40))
	}
	if a.ControlChars {
		return errors.New("control_chars cannot be allowed in a custom command")
	}
	if len(a.Schemes) > 0 {
		return errors.New("schemes are for url arguments, which custom commands do not take")
	}
	if len(a.Enum) > protocol.MaxHelloEnum {
		return fmt.Errorf("more than %d enum values", protocol.MaxHelloEnum)
	}
	for _, v := range a.Enum {
		if len(v) > protocol.MaxEnumValueLen || !protocol.IsDisplayText(v) {
			return fmt.Errorf("enum value %q: at most %d bytes of printable text", protocol.CleanText(v, 40), protocol.MaxEnumValueLen)
		}
	}
	if a.Type == protocol.ArgString {
		if a.MaxLen == 0 {
			a.MaxLen = DefaultCustomLen
		}
		if a.MaxLen < 0 || a.MaxLen > MaxCustomLen {
			return fmt.Errorf("max_len must be between 1 and %d", MaxCustomLen)
		}
	}
	if a.Default != nil {
		spec := protocol.CommandSpec{Name: "default", Args: []protocol.ArgSpec{*a}}
		if _, err := spec.Validate(nil); err != nil {
			return fmt.Errorf("default does not fit the arg: %v", err)
		}
	}
	return nil
}

// Custom returns the commands for defs, ready for Dispatcher.SetCustom.
// They are on by default (the owner declared them) and each runs as
// described by RunCustom.
func Custom(defs []CustomDef) []Command {
	out := make([]Command, 0, len(defs))
	for _, def := range defs {
		out = append(out, Command{
			Spec:      def.Spec(),
			DefaultOn: true,
			Rate:      customRate,
			Burst:     customBurst,
			Timeout:   def.Timeout() + customGrace,
			Run: func(ctx context.Context, args map[string]any) (json.RawMessage, error) {
				res, err := RunCustom(ctx, def, args)
				if err != nil {
					return nil, err
				}
				return protocol.MustData(res), nil
			},
		})
	}
	return out
}
