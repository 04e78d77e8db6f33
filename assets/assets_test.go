package assets

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/png"
	"testing"
)

func TestEveryStateHasEveryIcon(t *testing.T) {
	seen := map[string]bool{}
	for _, st := range IconStates {
		t.Run(st, func(t *testing.T) {
			for _, size := range PNGSizes {
				b, err := PNG(st, size)
				if err != nil {
					t.Fatal(err)
				}
				img, err := png.Decode(bytes.NewReader(b))
				if err != nil {
					t.Fatalf("%d px: %v", size, err)
				}
				if img.Bounds() != image.Rect(0, 0, size, size) {
					t.Errorf("%d px icon is %v", size, img.Bounds())
				}
				if seen[string(b)] {
					t.Errorf("%d px icon of %s is the same as another state's", size, st)
				}
				seen[string(b)] = true
				// Transparent corners, opaque centre.
				if _, _, _, a := img.At(0, 0).RGBA(); a != 0 {
					t.Errorf("%d px: corner not transparent", size)
				}
				if _, _, _, a := img.At(size/2, size/2).RGBA(); a != 0xffff {
					t.Errorf("%d px: centre not opaque", size)
				}
			}
			ico, err := ICO(st)
			if err != nil {
				t.Fatal(err)
			}
			var hdr [3]uint16
			binary.Read(bytes.NewReader(ico), binary.LittleEndian, &hdr)
			if hdr[0] != 0 || hdr[1] != 1 || hdr[2] != 5 {
				t.Errorf("ICO header %v", hdr)
			}
			for _, retina := range []bool{false, true} {
				b, err := Template(st, retina)
				if err != nil {
					t.Fatal(err)
				}
				img, err := png.Decode(bytes.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				// A template image is black: only alpha carries the shape.
				bnd := img.Bounds()
				for y := bnd.Min.Y; y < bnd.Max.Y; y++ {
					for x := bnd.Min.X; x < bnd.Max.X; x++ {
						if r, g, b, _ := img.At(x, y).RGBA(); r|g|b != 0 {
							t.Fatalf("template pixel (%d,%d) is not black", x, y)
						}
					}
				}
			}
		})
	}
	if len(AppIcon()) == 0 {
		t.Error("no application icon")
	}
}
