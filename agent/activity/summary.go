package activity

import (
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"unicode/utf8"

	"github.com/tether-desktop/tether/protocol"
)

// token is a string argument shown as it is: a short lower-case word, as
// the built-in commands' enums are ("left", "png", "mute").
var token = regexp.MustCompile(`^[a-z0-9_-]{1,16}$`)

// Summarize describes a command's arguments without what a person typed:
//   - type_text and clipboard_set: the text's length only (text_length);
//   - notify: the lengths of title and body;
//   - open_url: the URL's scheme and host only;
//   - other built-in commands: numbers and booleans as they are, strings
//     that are short enum words as they are, other strings by length;
//   - owner-defined commands: the names of the arguments given, no value.
//
// Lengths count characters. Arguments that are not a JSON object give
// nil. It never fails.
func Summarize(command string, args json.RawMessage) map[string]any {
	var in map[string]json.RawMessage
	if len(args) == 0 || json.Unmarshal(args, &in) != nil || len(in) == 0 {
		return nil
	}
	out := map[string]any{}
	if !protocol.IsKnownCommand(command) {
		names := make([]string, 0, len(in))
		for k := range in {
			names = append(names, clip(k))
		}
		slices.Sort(names)
		out["arg_names"] = names
		return out
	}
	for k, raw := range in {
		k = clip(k)
		var s string
		isString := json.Unmarshal(raw, &s) == nil
		switch {
		case command == "open_url" && k == "url" && isString:
			if u, err := url.Parse(s); err == nil && u.Host != "" {
				out["scheme"], out["host"] = clip(u.Scheme), clip(u.Hostname())
			} else {
				out["url_length"] = utf8.RuneCountInString(s)
			}
		case isString && (command == "type_text" || command == "clipboard_set" || command == "notify"):
			out[k+"_length"] = utf8.RuneCountInString(s)
		case isString && token.MatchString(s):
			out[k] = s
		case isString:
			out[k+"_length"] = utf8.RuneCountInString(s)
		default:
			var v any
			if json.Unmarshal(raw, &v) != nil {
				continue
			}
			switch v.(type) {
			case float64, bool:
				out[k] = v
			default:
				out[k+"_given"] = true // an object or array: only that it was there
			}
		}
	}
	return out
}

// clip bounds a name taken from the arguments, so that a key cannot carry
// text of its own.
func clip(s string) string {
	const max = 32
	if !protocol.IsDisplayText(s) {
		return "?"
	}
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		return string(r[:max]) + "…"
	}
	return s
}
