package report

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Chart draws one experiment of a matrix as a PNG at path: one bar per kcp-go version (in m.Versions
// order, versions without a run left out), stacked by class share in percent, trials that fit no class
// in grey on top.
func Chart(m *Matrix, e *MatrixExperiment, path string) error {
	var vs []string
	for _, v := range m.Versions {
		if vc := e.Versions[v]; vc != nil && vc.Trials > 0 {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return fmt.Errorf("%s: no version has trials to chart", e.ID)
	}
	cols := e.columns(vs)
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: class shares by kcp-go version", e.ID)
	p.Y.Label.Text = "share of trials (%)"
	p.X.Label.Text = "kcp-go"
	p.Legend.Top = true
	p.Legend.Left = true
	// Room above the bars for the legend (one row per class).
	p.Y.Min, p.Y.Max = 0, 100+10*float64(len(cols))
	p.Y.Tick.Marker = plot.ConstantTicks(percentTicks())
	p.NominalX(labels(vs)...)

	width := vg.Points(min(60, 360/float64(len(vs))))
	var below *plotter.BarChart
	for i, c := range cols {
		vals := make(plotter.Values, len(vs))
		for j, v := range vs {
			vc := e.Versions[v]
			vals[j] = 100 * float64(vc.Count(c)) / float64(vc.Trials)
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return err
		}
		bars.LineStyle.Width = vg.Length(0)
		bars.Color = plotutil.Color(i)
		if c == FailedClass {
			bars.Color = color.Gray{Y: 0x99}
		}
		if below != nil {
			bars.StackOn(below)
		}
		below = bars
		p.Add(bars)
		p.Legend.Add(c, bars)
	}
	p.X.Min, p.X.Max = -0.6, float64(len(vs))-0.4 // the bars' full width inside the axes
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return p.Save(vg.Points(max(360, 90*float64(len(vs))+120)), vg.Points(300+14*float64(len(cols))), path)
}

func labels(vs []string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		if v == "v5.4.20+incompatible" {
			v = "v5.4.20 (seed)"
		}
		out[i] = v
	}
	return out
}

func percentTicks() []plot.Tick {
	var t []plot.Tick
	for y := 0; y <= 100; y += 10 {
		label := ""
		if y%20 == 0 {
			label = fmt.Sprint(y)
		}
		t = append(t, plot.Tick{Value: float64(y), Label: label})
	}
	return t
}

// Charts draws one PNG per experiment of m into dir, named ID.png, and returns the path of each by
// experiment id, relative to rel (the directory of the document that links them).
func Charts(m *Matrix, dir, rel string) (map[string]string, error) {
	out := map[string]string{}
	for i := range m.Experiments {
		e := &m.Experiments[i]
		path := filepath.Join(dir, "matrix-"+Slug(e.ID)+".png")
		if err := Chart(m, e, path); err != nil {
			return out, err
		}
		r, err := filepath.Rel(rel, path)
		if err != nil {
			r = path
		}
		out[e.ID] = filepath.ToSlash(r)
	}
	return out, nil
}
