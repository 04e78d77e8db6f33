//go:build linux

package desktop

// Screenshots of the X display: GetImage of the root window, in strips,
// converted to RGBA by the pixel format the server announced (bits per
// pixel, scanline padding, byte order) and the root visual's colour masks.

import (
	"context"
	"fmt"
	"image"
	"math/bits"

	"github.com/jezek/xgb/xproto"
)

// captureStrip bounds the bytes of one GetImage reply.
const captureStrip = 4 << 20

func (x *xDisplay) capture(context.Context) (image.Image, error) {
	var img *image.RGBA
	err := x.do(func(c *xConn) error {
		g, err := answer(c, xproto.GetGeometry(c.x, xproto.Drawable(c.root)).Reply)
		if err != nil {
			return err
		}
		w, h := int(g.Width), int(g.Height)
		f, err := c.pixelFormat(g.Depth)
		if err != nil {
			return err
		}
		img = image.NewRGBA(image.Rect(0, 0, w, h))
		rows := max(1, captureStrip/max(1, f.stride(w)))
		for y := 0; y < h; y += rows {
			n := min(rows, h-y)
			r, err := answer(c, xproto.GetImage(c.x, xproto.ImageFormatZPixmap, xproto.Drawable(c.root),
				0, int16(y), uint16(w), uint16(n), ^uint32(0)).Reply)
			if err != nil {
				return err
			}
			if err := f.convert(img, y, n, r.Data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return img, nil
}

// pixelFormat is how a ZPixmap image of the root window is laid out.
type pixelFormat struct {
	bpp              int  // bits per pixel: 8, 16, 24 or 32
	pad              int  // each scanline is padded to a multiple of pad bits
	msbFirst         bool // the image byte order is most significant first
	red, green, blue uint32
}

// pixelFormat finds the format of images of depth on c's root window.
func (c *xConn) pixelFormat(depth byte) (pixelFormat, error) {
	var f pixelFormat
	for _, pf := range c.setup.PixmapFormats {
		if pf.Depth == depth {
			f.bpp, f.pad = int(pf.BitsPerPixel), int(pf.ScanlinePad)
		}
	}
	f.msbFirst = c.setup.ImageByteOrder != xproto.ImageOrderLSBFirst
	var visual *xproto.VisualInfo
	for _, d := range c.screen.AllowedDepths {
		for i := range d.Visuals {
			if d.Visuals[i].VisualId == c.screen.RootVisual {
				visual = &d.Visuals[i]
			}
		}
	}
	switch {
	case f.bpp != 8 && f.bpp != 16 && f.bpp != 24 && f.bpp != 32:
		return f, fmt.Errorf("cannot read a screen of depth %d (%d bits per pixel)", depth, f.bpp)
	case f.pad%8 != 0 || f.pad == 0:
		return f, fmt.Errorf("cannot read scanlines padded to %d bits", f.pad)
	case visual == nil:
		return f, fmt.Errorf("the root window's visual %d is not listed", c.screen.RootVisual)
	case visual.Class != xproto.VisualClassTrueColor && visual.Class != xproto.VisualClassDirectColor:
		return f, fmt.Errorf("cannot read a screen whose visual is not true colour (class %d)", visual.Class)
	}
	f.red, f.green, f.blue = visual.RedMask, visual.GreenMask, visual.BlueMask
	return f, nil
}

// stride is the bytes of one scanline of width pixels.
func (f pixelFormat) stride(width int) int {
	return (width*f.bpp + f.pad - 1) / f.pad * f.pad / 8
}

// convert writes n rows of data, from row y on, into img (every pixel
// opaque).
func (f pixelFormat) convert(img *image.RGBA, y, n int, data []byte) error {
	w := img.Rect.Dx()
	stride, size := f.stride(w), f.bpp/8
	if len(data) < stride*n {
		return fmt.Errorf("the X server sent %d bytes for %d rows of %d bytes", len(data), n, stride)
	}
	fast := f.bpp == 32 && !f.msbFirst && f.red == 0xff0000 && f.green == 0xff00 && f.blue == 0xff
	for row := range n {
		src := data[row*stride : row*stride+w*size]
		dst := img.Pix[(y+row)*img.Stride : (y+row)*img.Stride+4*w]
		if fast { // the usual 24-bit depth: B, G, R, unused
			for i := 0; i < w; i++ {
				dst[4*i], dst[4*i+1], dst[4*i+2], dst[4*i+3] = src[4*i+2], src[4*i+1], src[4*i], 0xff
			}
			continue
		}
		for i := 0; i < w; i++ {
			var v uint32
			p := src[i*size : i*size+size]
			for j := range size {
				if f.msbFirst {
					v = v<<8 | uint32(p[j])
				} else {
					v |= uint32(p[j]) << (8 * j)
				}
			}
			dst[4*i], dst[4*i+1], dst[4*i+2], dst[4*i+3] = channel(v, f.red), channel(v, f.green), channel(v, f.blue), 0xff
		}
	}
	return nil
}

// channel extracts the bits of mask from v, scaled to 8 bits.
func channel(v, mask uint32) uint8 {
	if mask == 0 {
		return 0
	}
	shift, width := bits.TrailingZeros32(mask), bits.OnesCount32(mask)
	c := uint64((v & mask) >> shift)
	top := uint64(1)<<width - 1
	return uint8((c*255 + top/2) / top)
}
