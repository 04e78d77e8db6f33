package commands

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"time"

	"golang.org/x/image/draw"

	"github.com/tether-desktop/tether/protocol"
)

// Bounds of the screenshot command's max_width argument.
const (
	ScreenshotMinWidth = 16
	ScreenshotMaxWidth = 7680
)

// ScreenshotBudget is the most bytes a screenshot's encoded image (before
// base64) may take so that its result frame fits protocol.MaxAgentFrame:
// base64 turns 3 bytes into 4, and 4 KiB are left for the rest of the frame.
const ScreenshotBudget = (protocol.MaxAgentFrame - 4<<10) / 4 * 3

// jpegQualities are tried in turn when an image does not fit its budget.
var jpegQualities = []int{85, 70, 50, 30}

func screenshotCommand(c Controller, unavailable func() string, budget int) Command {
	return Command{
		Spec: protocol.CommandSpec{
			Name:        protocol.CommandScreenshot,
			Title:       "Screenshot",
			Description: "Takes a picture of the computer’s screen.",
			Args: []protocol.ArgSpec{
				{Name: "format", Type: protocol.ArgString, Enum: []string{"png", "jpeg"}, Default: "png"},
				{Name: "max_width", Type: protocol.ArgInteger, Min: protocol.Float(ScreenshotMinWidth), Max: protocol.Float(ScreenshotMaxWidth)},
			},
		},
		Rate:        1,
		Burst:       2,
		Timeout:     15 * time.Second,
		Unavailable: unavailable,
		Run: func(ctx context.Context, args map[string]any) (json.RawMessage, error) {
			format, _ := args["format"].(string)
			if format != "png" && format != "jpeg" {
				return nil, protocol.Errorf(protocol.CodeInvalidArgs, "screenshot: argument \"format\" must be png or jpeg")
			}
			maxWidth := 0
			if _, ok := args["max_width"]; ok {
				w, err := intArg(args, "max_width", ScreenshotMinWidth, ScreenshotMaxWidth)
				if err != nil {
					return nil, err
				}
				maxWidth = int(w)
			}
			img, err := c.Capture(ctx)
			if err != nil {
				return nil, err
			}
			shot, err := EncodeScreenshot(ctx, img, format, maxWidth, budget)
			if err != nil {
				return nil, err
			}
			return protocol.MustData(shot), nil
		},
	}
}

// EncodeScreenshot scales img down to maxWidth (0: no limit; never up),
// encodes it as format ("png" or "jpeg") and returns it base64-encoded. When
// the encoded image is larger than budget bytes it falls back, in order, to
// JPEG at decreasing quality, then to 3/4 of the width (again and again) with
// JPEG; the result's Format says what was used. If nothing down to
// ScreenshotMinWidth fits, it returns a too_large error. It blocks while it
// encodes (tens of milliseconds to a second for a large screen) and stops
// early when ctx ends.
func EncodeScreenshot(ctx context.Context, img image.Image, format string, maxWidth, budget int) (protocol.Screenshot, error) {
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return protocol.Screenshot{}, protocol.Errorf(protocol.CodeInternal, "screenshot: the captured image is empty")
	}
	width := b.Dx()
	if maxWidth > 0 && maxWidth < width {
		width = maxWidth
	}
	var buf bytes.Buffer
	try := func(m image.Image, f string, q int) (bool, error) {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		buf.Reset()
		var err error
		if f == "png" {
			err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, m)
		} else {
			err = jpeg.Encode(&buf, m, &jpeg.Options{Quality: q})
		}
		if err != nil {
			return false, fmt.Errorf("encode %s: %w", f, err)
		}
		return buf.Len() <= budget, nil
	}
	for first := true; width >= ScreenshotMinWidth; first = false {
		m := scaleTo(img, width)
		mb := m.Bounds()
		done := func(f string) (protocol.Screenshot, error) {
			return protocol.Screenshot{Format: f, Width: mb.Dx(), Height: mb.Dy(), Data: base64.StdEncoding.EncodeToString(buf.Bytes())}, nil
		}
		if first && format == "png" {
			ok, err := try(m, "png", 0)
			if err != nil {
				return protocol.Screenshot{}, err
			}
			if ok {
				return done("png")
			}
		}
		for _, q := range jpegQualities {
			ok, err := try(m, "jpeg", q)
			if err != nil {
				return protocol.Screenshot{}, err
			}
			if ok {
				return done("jpeg")
			}
		}
		width = width * 3 / 4
	}
	return protocol.Screenshot{}, protocol.Errorf(protocol.CodeTooLarge,
		"screenshot: no encoding of the %d×%d screen fits in %d bytes", b.Dx(), b.Dy(), budget)
}

// scaleTo returns img scaled to width (keeping its aspect ratio), or img
// itself when it already has that width.
func scaleTo(img image.Image, width int) image.Image {
	b := img.Bounds()
	if width >= b.Dx() {
		return img
	}
	height := max(1, b.Dy()*width/b.Dx())
	dst := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	return dst
}
