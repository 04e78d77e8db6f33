package protocol

import (
	"encoding/json"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on the texts that describe a device. Registration
// (POST /api/v1/devices) and hello share them through CheckDeviceInfo, so a
// name one path refuses cannot come in through the other.
const (
	MaxDeviceNameRunes = 64       // runes in a device's display name
	MaxOSRunes         = 32       // runes in an OS name (runtime.GOOS is far shorter)
	MaxHostnameLen     = 253      // bytes in Hello.Hostname (the DNS limit)
	MaxShortTextLen    = 64       // bytes in Hello.Arch, Hello.Version, a command's title
	MaxHelloCommands   = 64       // commands in one hello
	MaxHelloArgs       = 32       // arguments of one command in hello
	MaxHelloEnum       = 64       // values of one argument's enum
	MaxEnumValueLen    = 256      // bytes in one enum value or scheme
	MaxUnavailableLen  = 256      // bytes in one reason of Hello.Unavailable
	MaxDescriptionLen  = 256      // bytes in a command's one-line description
	MaxHelloData       = 64 << 10 // bytes of a hello's data as a whole
)

// DefaultDeviceName is the name a device gets when it gives none.
const DefaultDeviceName = "desktop"

// IsDisplayText reports whether s is safe to show people as one line: valid
// UTF-8 without control characters (C0, DEL, C1), line or paragraph
// separators, or the invisible marks that reorder text (bidirectional
// embeddings, overrides and isolates, which can make "gpj.exe" read as
// "exe.jpg"). It does not bound the length.
func IsDisplayText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, hiddenRune)
}

// hiddenRune reports whether r is a control character, a line or paragraph
// separator, or a bidirectional formatting mark.
func hiddenRune(r rune) bool {
	switch {
	case unicode.IsControl(r): // U+0000–U+001F, U+007F–U+009F
		return true
	case r == '\u2028' || r == '\u2029': // line and paragraph separators
		return true
	case r == '\u061c' || r == '\u200e' || r == '\u200f': // Arabic letter mark, LRM, RLM
		return true
	case r >= '\u202a' && r <= '\u202e': // LRE, RLE, PDF, LRO, RLO
		return true
	case r >= '\u2066' && r <= '\u2069': // LRI, RLI, FSI, PDI
		return true
	}
	return false
}

// CheckDeviceInfo trims a device's name and OS as given at registration or in
// hello, gives an empty name the default, and checks both: display text of at
// most MaxDeviceNameRunes and MaxOSRunes runes. It returns the cleaned values,
// or an *Error with code bad_request that names the rule.
func CheckDeviceInfo(name, os string) (string, string, *Error) {
	name, os = strings.TrimSpace(name), strings.TrimSpace(os)
	if name == "" {
		name = DefaultDeviceName
	}
	if utf8.RuneCountInString(name) > MaxDeviceNameRunes || utf8.RuneCountInString(os) > MaxOSRunes ||
		!IsDisplayText(name) || !IsDisplayText(os) {
		return "", "", Errorf(CodeBadRequest,
			"name (≤ %d characters) and os (≤ %d) must be printable text without control or bidirectional marks",
			MaxDeviceNameRunes, MaxOSRunes)
	}
	return name, os, nil
}

// DecodeHello parses a hello's data and bounds everything in it that the
// relay keeps and forwards to browsers: the name and OS as CheckDeviceInfo
// does (the name cleaned and defaulted), the other texts by length and
// content, and the commands by count. Data over MaxHelloData bytes is
// refused with code too_large, every other refusal has code bad_request.
// Reasons in Unavailable are cleaned with CleanText rather than refused.
func DecodeHello(data json.RawMessage) (*Hello, *Error) {
	if len(data) > MaxHelloData {
		return nil, Errorf(CodeTooLarge, "hello data over %d bytes", MaxHelloData)
	}
	var h Hello
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, Errorf(CodeBadRequest, "hello data is not valid: %v", truncate(err.Error(), 120))
	}
	name, os, perr := CheckDeviceInfo(h.Name, h.OS)
	if perr != nil {
		return nil, Errorf(CodeBadRequest, "hello: %s", perr.Message)
	}
	h.Name, h.OS = name, os
	if err := firstErr(
		checkText("hello hostname", h.Hostname, MaxHostnameLen),
		checkText("hello arch", h.Arch, MaxShortTextLen),
		checkText("hello version", h.Version, MaxShortTextLen),
		checkCommands(h.Commands),
	); err != nil {
		return nil, err
	}
	if len(h.Unavailable) > MaxHelloCommands {
		return nil, Errorf(CodeBadRequest, "hello lists more than %d unavailable commands", MaxHelloCommands)
	}
	for cmd, why := range h.Unavailable {
		if err := checkText("hello unavailable command", cmd, MaxNameLen); err != nil {
			return nil, err
		}
		// A reason is often an OS error message the agent did not write:
		// clean it rather than refuse the whole hello over it.
		h.Unavailable[cmd] = CleanText(why, MaxUnavailableLen)
	}
	return &h, nil
}

// CleanText returns s as one line of display text: every rune IsDisplayText
// refuses (invalid bytes included) replaced by a space, and the result cut to
// at most max bytes on a rune boundary.
func CleanText(s string, max int) string {
	s = strings.ToValidUTF8(s, " ")
	s = strings.Map(func(r rune) rune {
		if hiddenRune(r) {
			return ' '
		}
		return r
	}, s)
	return clip(s, max)
}

// checkCommands bounds the command specs of a hello.
func checkCommands(cs []CommandSpec) *Error {
	if len(cs) > MaxHelloCommands {
		return Errorf(CodeBadRequest, "hello lists more than %d commands", MaxHelloCommands)
	}
	for _, c := range cs {
		if c.Name == "" {
			return Errorf(CodeBadRequest, "hello has a command without a name")
		}
		if c.TimeoutMS < 0 || time.Duration(c.TimeoutMS)*time.Millisecond > MaxCommandWait {
			return Errorf(CodeBadRequest, "hello command %q: timeout_ms must be between 0 and %d", truncate(c.Name, 32), MaxCommandWait.Milliseconds())
		}
		if len(c.Args) > MaxHelloArgs {
			return Errorf(CodeBadRequest, "hello command %q has more than %d args", truncate(c.Name, 32), MaxHelloArgs)
		}
		if err := firstErr(checkText("hello command name", c.Name, MaxNameLen),
			checkText("hello command title", c.Title, MaxShortTextLen),
			checkText("hello command description", c.Description, MaxDescriptionLen)); err != nil {
			return err
		}
		for _, a := range c.Args {
			if len(a.Enum) > MaxHelloEnum || len(a.Schemes) > MaxHelloEnum {
				return Errorf(CodeBadRequest, "hello command %q: argument with more than %d enum values or schemes", truncate(c.Name, 32), MaxHelloEnum)
			}
			if err := firstErr(checkText("hello argument name", a.Name, MaxNameLen),
				checkText("hello argument type", a.Type, MaxShortTextLen)); err != nil {
				return err
			}
			for _, v := range append(append([]string(nil), a.Enum...), a.Schemes...) {
				if err := checkText("hello enum value", v, MaxEnumValueLen); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// checkText refuses s when it is longer than max bytes or is not display text.
func checkText(field, s string, max int) *Error {
	if len(s) > max {
		return Errorf(CodeBadRequest, "%s longer than %d bytes", field, max)
	}
	if !IsDisplayText(s) {
		return Errorf(CodeBadRequest, "%s has control characters or bidirectional marks", field)
	}
	return nil
}

// firstErr returns the first non-nil error of errs.
func firstErr(errs ...*Error) *Error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// clip cuts s to at most max bytes on a rune boundary, marking the cut.
func clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const mark = "…"
	cut := max - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
