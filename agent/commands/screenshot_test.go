package commands

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"testing"

	"github.com/tether-desktop/tether/protocol"
)

// noise is an image PNG cannot shrink much: random pixels.
func noise(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = byte(r.Uint32())
	}
	return img
}

func solid(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		copy(img.Pix[i:], []byte{0x33, 0x66, 0x99, 0xff})
	}
	return img
}

func decode(t *testing.T, s protocol.Screenshot) image.Image {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(s.Data)
	if err != nil {
		t.Fatal(err)
	}
	var img image.Image
	switch s.Format {
	case "png":
		img, err = png.Decode(bytes.NewReader(raw))
	case "jpeg":
		img, err = jpeg.Decode(bytes.NewReader(raw))
	default:
		t.Fatalf("format %q", s.Format)
	}
	if err != nil {
		t.Fatalf("decode %s: %v", s.Format, err)
	}
	if b := img.Bounds(); b.Dx() != s.Width || b.Dy() != s.Height {
		t.Fatalf("decoded %v, result says %d×%d", b, s.Width, s.Height)
	}
	return img
}

func TestEncodeScreenshot(t *testing.T) {
	for _, tc := range []struct {
		name       string
		img        image.Image
		format     string
		maxWidth   int
		budget     int
		wantFormat string
		wantWidth  int // 0: less than the image's width
		wantCode   string
	}{
		{"png as asked", solid(640, 400), "png", 0, ScreenshotBudget, "png", 640, ""},
		{"jpeg as asked", solid(640, 400), "jpeg", 0, ScreenshotBudget, "jpeg", 640, ""},
		{"scaled to max_width", solid(640, 400), "png", 320, ScreenshotBudget, "png", 320, ""},
		{"never scaled up", solid(64, 40), "png", 7680, ScreenshotBudget, "png", 64, ""},
		{"png too big falls back to jpeg", noise(400, 300), "png", 0, 100 << 10, "jpeg", 400, ""},
		{"jpeg too big shrinks", noise(400, 300), "jpeg", 0, 8 << 10, "jpeg", 0, ""},
		{"nothing fits", noise(400, 300), "png", 0, 100, "", 0, protocol.CodeTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shot, err := EncodeScreenshot(context.Background(), tc.img, tc.format, tc.maxWidth, tc.budget)
			if tc.wantCode != "" {
				if perr := protocol.AsError(err); err == nil || perr.Code != tc.wantCode {
					t.Fatalf("err = %v, want %s", err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if shot.Format != tc.wantFormat {
				t.Errorf("format %s, want %s", shot.Format, tc.wantFormat)
			}
			if raw, _ := base64.StdEncoding.DecodeString(shot.Data); len(raw) > tc.budget {
				t.Errorf("%d bytes, over the budget of %d", len(raw), tc.budget)
			}
			src := tc.img.Bounds()
			if tc.wantWidth > 0 && shot.Width != tc.wantWidth || tc.wantWidth == 0 && shot.Width >= src.Dx() {
				t.Errorf("width %d, want %d (0: smaller than %d)", shot.Width, tc.wantWidth, src.Dx())
			}
			if want := src.Dy() * shot.Width / src.Dx(); shot.Height != want {
				t.Errorf("height %d, want %d (aspect kept)", shot.Height, want)
			}
			img := decode(t, shot)
			if tc.img.(*image.RGBA).Pix[0] == 0x33 { // solid: every pixel keeps the colour
				r, g, b, _ := img.At(shot.Width/2, shot.Height/2).RGBA()
				if d := max(absDiff(r>>8, 0x33), absDiff(g>>8, 0x66), absDiff(b>>8, 0x99)); d > 4 {
					t.Errorf("centre pixel %02x%02x%02x, want about 336699", r>>8, g>>8, b>>8)
				}
			}
		})
	}
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// TestScreenshotResultFitsTheFrame checks the budget against a real result
// frame: the largest image the budget allows, base64-encoded in a result,
// stays within the agent frame limit.
func TestScreenshotResultFitsTheFrame(t *testing.T) {
	shot := protocol.Screenshot{Format: "jpeg", Width: 7680, Height: 4320, Data: base64.StdEncoding.EncodeToString(make([]byte, ScreenshotBudget))}
	id := string(bytes.Repeat([]byte("r"), protocol.MaxIDLen))
	dev := string(bytes.Repeat([]byte("d"), protocol.MaxDeviceLen))
	b, err := protocol.Encode(protocol.Result(id, dev, protocol.MustData(shot), nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > protocol.MaxAgentFrame {
		t.Errorf("a result with a full budget is %d bytes, over %d", len(b), protocol.MaxAgentFrame)
	}
	var back protocol.Message
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
}
