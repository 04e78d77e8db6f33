//go:build ignore

// gen_icons draws Tether's tray icons into PNG, ICO and macOS template files
// in this directory. Run it with `go generate ./assets` after changing a shape
// or a colour, and commit what it writes.
//
// Every icon is a disc in the state's colour with a white glyph, ringed by a
// thin dark outline and a light halo so that it stays legible on light and
// dark panels alike; the states also differ in shape (a letter T, a hollow
// ring, two bars, an exclamation mark), not only in colour. Shapes are signed
// distance functions sampled 8×8 times per pixel.
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
)

type rgb struct{ r, g, b float64 }

type state struct {
	name  string
	fill  rgb
	glyph func(x, y float64) float64 // SDF of the white glyph, in a unit where the disc has radius 1
	ring  bool                       // hollow disc: the state colour is a ring only
}

var states = []state{
	{"connected", rgb{0.13, 0.62, 0.36}, glyphT, false},
	{"offline", rgb{0.47, 0.50, 0.55}, glyphT, true},
	{"paused", rgb{0.90, 0.62, 0.10}, glyphBars, false},
	{"error", rgb{0.84, 0.23, 0.20}, glyphBang, false},
}

// box is the SDF of an axis-aligned rectangle centred at (cx, cy).
func box(x, y, cx, cy, hw, hh float64) float64 {
	dx, dy := math.Abs(x-cx)-hw, math.Abs(y-cy)-hh
	out := math.Hypot(math.Max(dx, 0), math.Max(dy, 0))
	return out + math.Min(math.Max(dx, dy), 0)
}

func glyphT(x, y float64) float64 {
	bar := box(x, y, 0, -0.36, 0.50, 0.13)
	stem := box(x, y, 0, 0.12, 0.14, 0.46)
	return math.Min(bar, stem)
}

func glyphBars(x, y float64) float64 {
	return math.Min(box(x, y, -0.24, 0, 0.12, 0.44), box(x, y, 0.24, 0, 0.12, 0.44))
}

func glyphBang(x, y float64) float64 {
	stem := box(x, y, 0, -0.16, 0.13, 0.38)
	dot := math.Hypot(x, y-0.48) - 0.15
	return math.Min(stem, dot)
}

// pixel returns the colour of point (x, y) in disc units (radius 1 fills the
// icon but for a halo margin), or transparent.
func (s state) pixel(x, y float64, template bool) (c rgb, a float64) {
	d := math.Hypot(x, y)
	const outline = 0.07
	if template {
		// Black with alpha only; macOS tints it. The glyph is cut out of
		// the disc (or, for the ring, drawn inside it).
		if s.ring {
			if (d <= 1 && d >= 0.80) || (s.glyph(x, y) <= 0 && d < 0.80) {
				return rgb{}, 1
			}
			return rgb{}, 0
		}
		if d <= 1 && s.glyph(x, y) > 0 {
			return rgb{}, 1
		}
		return rgb{}, 0
	}
	white := rgb{1, 1, 1}
	dark := rgb{0.08, 0.09, 0.10}
	switch {
	case d > 1+outline+0.06:
		return rgb{}, 0
	case d > 1+outline:
		return white, 0.55 // light halo: visible on dark panels
	case d > 1:
		return dark, 0.85 // dark outline: visible on light panels
	}
	if s.glyph(x, y) <= 0 {
		if s.ring {
			return s.fill, 1
		}
		return white, 1
	}
	if s.ring {
		if d >= 0.78 {
			return s.fill, 1
		}
		return rgb{0.96, 0.97, 0.98}, 1
	}
	return s.fill, 1
}

func render(s state, size int, template bool) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	const ss = 8
	half := float64(size) / 2
	radius := half / 1.14 // leave room for the outline and halo
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var r, g, b, a float64
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					x := (float64(px) + (float64(sx)+0.5)/ss - half) / radius
					y := (float64(py) + (float64(sy)+0.5)/ss - half) / radius
					c, al := s.pixel(x, y, template)
					r += c.r * al
					g += c.g * al
					b += c.b * al
					a += al
				}
			}
			if a == 0 {
				continue
			}
			n := float64(ss * ss)
			img.SetNRGBA(px, py, color.NRGBA{
				R: uint8(math.Round(r / a * 255)), G: uint8(math.Round(g / a * 255)),
				B: uint8(math.Round(b / a * 255)), A: uint8(math.Round(a / n * 255)),
			})
		}
	}
	return img
}

func encodePNG(img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		log.Fatal(err)
	}
	return b.Bytes()
}

// ico packs PNG images into one ICO file (PNG entries: Windows Vista and later).
func ico(pngs [][]byte, sizes []int) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, [3]uint16{0, 1, uint16(len(pngs))})
	offset := 6 + 16*len(pngs)
	for i, p := range pngs {
		dim := uint8(sizes[i])
		if sizes[i] >= 256 {
			dim = 0
		}
		b.Write([]byte{dim, dim, 0, 0})
		binary.Write(&b, binary.LittleEndian, [2]uint16{1, 32})
		binary.Write(&b, binary.LittleEndian, [2]uint32{uint32(len(p)), uint32(offset)})
		offset += len(p)
	}
	for _, p := range pngs {
		b.Write(p)
	}
	return b.Bytes()
}

func write(name string, b []byte) {
	if err := os.WriteFile(name, b, 0o644); err != nil {
		log.Fatal(err)
	}
}

func main() {
	if err := os.MkdirAll("icons", 0o755); err != nil {
		log.Fatal(err)
	}
	for _, s := range states {
		var icoPNGs [][]byte
		icoSizes := []int{16, 24, 32, 48, 256}
		for _, size := range []int{16, 22, 24, 32, 48, 256} {
			p := encodePNG(render(s, size, false))
			if size != 24 && size != 256 {
				write(fmt.Sprintf("icons/%s-%d.png", s.name, size), p)
			}
			for _, is := range icoSizes {
				if is == size {
					icoPNGs = append(icoPNGs, p)
				}
			}
		}
		write(fmt.Sprintf("icons/%s.ico", s.name), ico(icoPNGs, icoSizes))
		write(fmt.Sprintf("icons/%s-template.png", s.name), encodePNG(render(s, 22, true)))
		write(fmt.Sprintf("icons/%s-template@2x.png", s.name), encodePNG(render(s, 44, true)))
	}
	// The application icon (menus, the .deb, the Windows executable).
	write("icons/tether-256.png", encodePNG(render(states[0], 256, false)))
}
