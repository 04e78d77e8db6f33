package inbox

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestSafeName(t *testing.T) {
	long := strings.Repeat("é", 150) + ".jpeg" // 305 bytes
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "photo.jpg", "photo.jpg"},
		{"unicode kept", "Été à Paris.heic", "Été à Paris.heic"},
		{"unix path", "../../etc/passwd", "passwd"},
		{"windows path", `C:\Users\x\..\evil.exe`, "evil.exe"},
		{"dot dot alone", "..", fallbackName},
		{"hidden", ".bashrc", "bashrc"},
		{"hidden dots", "...x", "x"},
		{"trailing dots and spaces", "report.pdf. . ", "report.pdf"},
		{"empty", "", fallbackName},
		{"only separators", "///", fallbackName},
		{"control chars", "a\x00b\nc\x7fd.txt", "ab cd.txt"},
		{"bidi override", "photo\u202egpj.exe", "photogpj.exe"},
		{"isolates and marks", "\u2066a\u2069\u200eb\u200f", "ab"},
		{"zero width and bom", "\ufeffa\u200bb", "ab"},
		{"line separator", "a\u2028b", "a b"},
		{"windows forbidden", `a<b>c:d"e|f?g*h.txt`, "a_b_c_d_e_f_g_h.txt"},
		{"tab is a space", "a\tb", "a b"},
		{"reserved con", "CON", "_CON"},
		{"reserved with ext", "nul.txt", "_nul.txt"},
		{"reserved com1", "com1.tar.gz", "_com1.tar.gz"},
		{"reserved lpt superscript", "LPT¹.txt", "_LPT¹.txt"},
		{"reserved trailing space stem", "aux .txt", "_aux .txt"},
		{"not reserved", "console.txt", "console.txt"},
		{"not reserved com10", "com10", "com10"},
		{"invalid utf8", "a\xffb.txt", "a_b.txt"},
		{"long keeps extension", long, strings.Repeat("é", 97) + ".jpeg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SafeName(tc.in)
			if got != tc.want {
				t.Fatalf("SafeName(%q) = %q, want %q", tc.in, got, tc.want)
			}
			checkSafe(t, tc.in, got)
		})
	}
}

func TestNumbered(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"photo.jpg", 1, "photo.jpg"},
		{"photo.jpg", 2, "photo (2).jpg"},
		{"archive.tar.gz", 3, "archive.tar (3).gz"},
		{"README", 2, "README (2)"},
		{strings.Repeat("a", MaxNameBytes-4) + ".jpg", 12, strings.Repeat("a", MaxNameBytes-9) + " (12).jpg"},
	} {
		if got := numbered(tc.in, tc.n); got != tc.want || len(got) > MaxNameBytes {
			t.Errorf("numbered(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

// checkSafe asserts everything SafeName promises of out.
func checkSafe(t *testing.T, in, out string) {
	t.Helper()
	switch {
	case out == "":
		t.Fatalf("SafeName(%q) is empty", in)
	case !utf8.ValidString(out):
		t.Fatalf("SafeName(%q) = %q: not UTF-8", in, out)
	case len(out) > MaxNameBytes:
		t.Fatalf("SafeName(%q) has %d bytes", in, len(out))
	case strings.ContainsAny(out, `/\<>:"|?*`):
		t.Fatalf("SafeName(%q) = %q: a separator or a character Windows forbids", in, out)
	case strings.HasPrefix(out, ".") || strings.HasSuffix(out, ".") || strings.HasSuffix(out, " ") || strings.HasPrefix(out, " "):
		t.Fatalf("SafeName(%q) = %q: hidden, or dots or spaces at an end", in, out)
	case strings.ContainsFunc(out, func(r rune) bool { return invisible(r) || unicode.IsControl(r) }):
		t.Fatalf("SafeName(%q) = %q: invisible characters", in, out)
	case reserved(out):
		t.Fatalf("SafeName(%q) = %q: a reserved Windows name", in, out)
	case filepath.Base(out) != out || out == ".." || isPart(out):
		t.Fatalf("SafeName(%q) = %q: not one plain element", in, out)
	case SafeName(out) != out:
		t.Fatalf("SafeName is not idempotent on %q: %q", out, SafeName(out))
	}
}

// FuzzSafeName checks SafeName's promises on any input; its corpus is in
// testdata/fuzz/FuzzSafeName.
func FuzzSafeName(f *testing.F) {
	for _, s := range []string{"photo.jpg", "../x", `..\..\x`, "CON.txt", "\u202eexe.jpg", ".", " . ", strings.Repeat("x", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkSafe(t, in, SafeName(in))
	})
}
