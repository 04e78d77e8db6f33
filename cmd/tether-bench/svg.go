package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// series is one line of a plot.
type series struct {
	name  string
	color string
	dash  bool
	pts   [][2]float64
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"}

type plotSpec struct {
	title, xlabel, ylabel string
	logX                  bool
	ymax                  float64
}

// plot draws line series as a self-contained SVG with axes, ticks and a legend.
func plot(p plotSpec, ss []series) string {
	const W, H, L, R, T, B = 760.0, 440.0, 70.0, 20.0, 40.0, 60.0
	xmin, xmax := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for _, pt := range s.pts {
			x := pt[0]
			if p.logX && x <= 0 {
				continue
			}
			xmin, xmax = math.Min(xmin, x), math.Max(xmax, x)
		}
	}
	if math.IsInf(xmin, 0) {
		xmin, xmax = 1, 10
	}
	if p.logX {
		xmin = math.Pow(10, math.Floor(math.Log10(xmin)))
		xmax = math.Pow(10, math.Ceil(math.Log10(xmax)))
	} else {
		xmin = 0
		xmax = niceCeil(xmax)
	}
	if xmax <= xmin {
		xmax = xmin + 1
	}
	fx := func(x float64) float64 {
		if p.logX {
			return L + (math.Log10(x)-math.Log10(xmin))/(math.Log10(xmax)-math.Log10(xmin))*(W-L-R)
		}
		return L + (x-xmin)/(xmax-xmin)*(W-L-R)
	}
	fy := func(y float64) float64 { return H - B - y/p.ymax*(H-T-B) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="%.0f" y="22" font-size="15" text-anchor="middle">%s</text>`+"\n", W/2, html.EscapeString(p.title))
	// Grid and ticks.
	var xt []float64
	if p.logX {
		for v := xmin; v <= xmax*1.0001; v *= 10 {
			xt = append(xt, v)
		}
	} else {
		for i := 0; i <= 10; i++ {
			xt = append(xt, xmin+float64(i)*(xmax-xmin)/10)
		}
	}
	for _, v := range xt {
		x := fx(v)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#ddd"/><text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`+"\n", x, T, x, H-B, x, H-B+16, tick(v))
	}
	for i := 0; i <= 5; i++ {
		v := p.ymax * float64(i) / 5
		y := fy(v)
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#ddd"/><text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n", L, y, W-R, y, L-6, y+4, tick(v))
	}
	fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#333"/>`+"\n", L, T, W-L-R, H-T-B)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">%s</text>`+"\n", (L+W-R)/2, H-18, html.EscapeString(p.xlabel))
	fmt.Fprintf(&b, `<text x="16" y="%.0f" text-anchor="middle" transform="rotate(-90 16 %.0f)">%s</text>`+"\n", (T+H-B)/2, (T+H-B)/2, html.EscapeString(p.ylabel))
	for i, s := range ss {
		var pts []string
		for _, pt := range s.pts {
			if p.logX && pt[0] <= 0 {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", fx(pt[0]), fy(pt[1])))
		}
		dash := ""
		if s.dash {
			dash = ` stroke-dasharray="6 3"`
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", s.color, dash, strings.Join(pts, " "))
		ly := T + 16 + float64(i)*16
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="%s" stroke-width="2"%s/><text x="%.0f" y="%.0f">%s</text>`+"\n",
			L+10, ly-4, L+34, ly-4, s.color, dash, L+40, ly, html.EscapeString(s.name))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	m := math.Pow(10, math.Floor(math.Log10(v)))
	for _, f := range []float64{1, 2, 2.5, 5, 10} {
		if f*m >= v {
			return f * m
		}
	}
	return 10 * m
}

func tick(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	default:
		return fmt.Sprintf("%g", math.Round(v*100)/100)
	}
}
