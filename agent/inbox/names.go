package inbox

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameBytes bounds a saved file's name, leaving room under the 255
// bytes most file systems allow for " (9999)" and the .part file's
// prefix and suffix.
const MaxNameBytes = 200

// fallbackName is the name of a file whose sent name has nothing usable.
const fallbackName = "file"

// SafeName turns a name sent from a browser into one that is safe to
// create in the inbox folder on every desktop OS: the last element of a
// path only (no separators, no traversal), without control characters,
// line separators or the invisible marks that reorder text (which can
// make "gpj.exe" read as "exe.jpg"), without characters Windows forbids,
// not hidden (no leading dot), not one of Windows' reserved device names
// (CON, NUL, COM1, …, whatever the extension), and at most MaxNameBytes
// bytes with its extension kept. It never returns "". SafeName is
// idempotent: a safe name comes back unchanged.
func SafeName(name string) string {
	name = strings.ToValidUTF8(name, "_")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case unicode.IsSpace(r):
			b.WriteByte(' ') // tabs, line breaks, no-break and other spaces read as one
		case invisible(r):
		case strings.ContainsRune(`<>:"|?*`, r):
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	name = strings.TrimLeft(strings.Trim(b.String(), " ."), ". ")
	name = bound(name, MaxNameBytes)
	if name == "" {
		return fallbackName
	}
	if reserved(name) {
		name = "_" + name
	}
	return bound(name, MaxNameBytes)
}

// invisible reports whether r is dropped from names: control characters,
// line and paragraph separators, bidirectional marks, zero-width
// characters and the byte-order mark.
func invisible(r rune) bool {
	switch {
	case unicode.IsControl(r), r == '\u2028', r == '\u2029':
		return true
	case r == '\u061c', r == '\u200e', r == '\u200f', r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return true
	case r >= '\u200b' && r <= '\u200d', r == '\u2060', r == '\ufeff':
		return true
	}
	return false
}

// reserved reports whether Windows treats name as a device: CON, PRN,
// AUX, NUL, COM0–9 and LPT0–9 (with the superscript digits), in any case,
// alone or before an extension, with trailing spaces or not.
func reserved(name string) bool {
	stem, _, _ := strings.Cut(name, ".")
	stem = strings.ToUpper(strings.TrimRight(stem, " "))
	switch stem {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if len(stem) >= 4 && (strings.HasPrefix(stem, "COM") || strings.HasPrefix(stem, "LPT")) {
		d := stem[3:]
		return len(d) == 1 && d[0] >= '0' && d[0] <= '9' || d == "¹" || d == "²" || d == "³"
	}
	return false
}

// bound cuts name to at most n bytes on a rune boundary, keeping its
// extension (when it is short) and trimming what the cut leaves at the
// end of the stem.
func bound(name string, n int) string {
	if len(name) <= n {
		return name
	}
	stem, ext := splitExt(name)
	if len(ext) > 16 {
		stem, ext = name, ""
	}
	stem = cut(stem, n-len(ext))
	stem = strings.TrimRight(stem, " .")
	if stem == "" {
		return cut(strings.TrimLeft(ext, "."), n)
	}
	return stem + ext
}

// cut shortens s to at most n bytes on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// splitExt splits "photo.jpg" into "photo" and ".jpg"; a name without a
// dot after its first character has no extension.
func splitExt(name string) (string, string) {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 {
		return name, ""
	}
	return name[:i], name[i:]
}

// numbered returns the n-th name to try for name: name itself for 1,
// then "photo (2).jpg", "photo (3).jpg", …, within MaxNameBytes.
func numbered(name string, n int) string {
	if n <= 1 {
		return name
	}
	stem, ext := splitExt(name)
	suffix := " (" + strconv.Itoa(n) + ")"
	return strings.TrimRight(cut(stem, MaxNameBytes-len(ext)-len(suffix)), " .") + suffix + ext
}
