package protocol

import "unicode/utf8"

// validFrame reports whether b is one JSON value (as json.Valid decides),
// all of it valid UTF-8, with objects and arrays nested at most MaxDepth
// deep: the three checks ReadEnvelope makes of every frame an agent
// forwards, in one pass over it instead of three (utf8.Valid, depth and
// json.Valid, which FuzzValidFrame holds it to).
func validFrame(b []byte) bool {
	var open [MaxDepth]byte // the opening bracket of each container in which b[i] is
	depth := 0
	i := 0
	var ok bool
	for {
		// A value starts at b[i] (after space).
		i = skipSpace(b, i)
		if i >= len(b) {
			return false
		}
		switch c := b[i]; c {
		case '{', '[':
			if depth == MaxDepth {
				return false
			}
			open[depth] = c
			depth++
			i = skipSpace(b, i+1)
			if i < len(b) && b[i] == c+2 { // '}' is '{'+2, ']' is '['+2: empty
				depth--
				i++
				break
			}
			if c == '{' {
				if i, ok = memberKey(b, i); !ok {
					return false
				}
			}
			continue // its first value
		case '"':
			if i, ok = scanString(b, i); !ok {
				return false
			}
		case 't':
			if i, ok = literal(b, i, "true"); !ok {
				return false
			}
		case 'f':
			if i, ok = literal(b, i, "false"); !ok {
				return false
			}
		case 'n':
			if i, ok = literal(b, i, "null"); !ok {
				return false
			}
		default:
			if i, ok = scanNumber(b, i); !ok {
				return false
			}
		}
		// After a value: the containers it ends, then a comma before the
		// next value, or the end of b.
		for {
			i = skipSpace(b, i)
			if depth == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			if b[i] == ',' {
				i++
				if open[depth-1] == '{' {
					if i, ok = memberKey(b, i); !ok {
						return false
					}
				}
				break
			}
			if b[i] != open[depth-1]+2 {
				return false
			}
			depth--
			i++
		}
	}
}

// skipSpace returns the index of the first byte from b[i] on that is not
// JSON white space.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// memberKey reads an object member's key and its colon from b[i] on
// (after space) and returns the index after the colon.
func memberKey(b []byte, i int) (int, bool) {
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != '"' {
		return 0, false
	}
	i, ok := scanString(b, i)
	if !ok {
		return 0, false
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return 0, false
	}
	return i + 1, true
}

// scanString reads the JSON string starting at b[i] (a '"'): escapes as
// JSON has them, no control character, valid UTF-8. It returns the index
// after the closing quote.
func scanString(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); {
		switch c := b[j]; {
		case c == '"':
			return j + 1, true
		case c == '\\':
			if j+1 >= len(b) {
				return 0, false
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(b) || !isHex(b[j+2]) || !isHex(b[j+3]) || !isHex(b[j+4]) || !isHex(b[j+5]) {
					return 0, false
				}
				j += 6
			default:
				return 0, false
			}
		case c < 0x20:
			return 0, false
		case c < utf8.RuneSelf:
			j++
		default:
			r, size := utf8.DecodeRune(b[j:])
			if r == utf8.RuneError && size == 1 {
				return 0, false
			}
			j += size
		}
	}
	return 0, false
}

// isHex reports whether c is a hexadecimal digit.
func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// literal reads word (true, false or null) at b[i].
func literal(b []byte, i int, word string) (int, bool) {
	if len(b)-i < len(word) || string(b[i:i+len(word)]) != word {
		return 0, false
	}
	return i + len(word), true
}

// scanNumber reads the JSON number starting at b[i]: an optional minus,
// an integer without leading zeros, an optional fraction and exponent.
func scanNumber(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digits(b, i)
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		if i+1 >= len(b) || !isDigit(b[i+1]) {
			return 0, false
		}
		i = digits(b, i+1)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return 0, false
		}
		i = digits(b, i)
	}
	return i, true
}

// digits returns the index after the run of decimal digits at b[i].
func digits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

// isDigit reports whether c is a decimal digit.
func isDigit(c byte) bool { return '0' <= c && c <= '9' }
