package report

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// ChartData is what Chart draws for one experiment of a matrix: one bar per kcp-go version, stacked by
// class share in percent.
type ChartData struct {
	Title    string
	Versions []string // one bar each, in the matrix's order; versions without trials are left out
	Labels   []string // the bars' labels on the x axis
	Axis     string   // what the bars are: "kcp-go" (versions) or "server → client" (pairs)
	Classes  []string // the parts of every bar, bottom first: FailedClass last when any version had a failed trial
	Counts   [][]int  // Counts[i][j]: the trials of Classes[i] with Versions[j]
	Trials   []int    // Trials[j]: the trials with Versions[j]
}

// ChartOf returns the data Chart draws for experiment e of m.
func ChartOf(m *Matrix, e *MatrixExperiment) (ChartData, error) {
	d := ChartData{Title: fmt.Sprintf("%s: class shares by kcp-go version", e.ID), Axis: "kcp-go"}
	add := func(v, label string) {
		if vc := e.Versions[v]; vc != nil && vc.Trials > 0 {
			d.Versions = append(d.Versions, v)
			d.Labels = append(d.Labels, label)
			d.Trials = append(d.Trials, vc.Trials)
		}
	}
	if len(m.Peers) > 0 { // a pairs matrix: a bar per pair that ran, the server's peer first
		d.Title, d.Axis = fmt.Sprintf("%s: class shares by pair", e.ID), "server → client"
		for _, s := range m.Peers {
			for _, c := range m.Peers {
				add(PairLabel(s.Label, c.Label), versionLabel(s.Label)+" → "+versionLabel(c.Label))
			}
		}
	} else {
		for _, v := range m.Versions {
			add(v, versionLabel(v))
		}
	}
	if len(d.Versions) == 0 {
		return d, fmt.Errorf("%s: no version has trials to chart", e.ID)
	}
	d.Classes = e.columns(d.Versions)
	d.Counts = make([][]int, len(d.Classes))
	for i, c := range d.Classes {
		d.Counts[i] = make([]int, len(d.Versions))
		for j, v := range d.Versions {
			d.Counts[i][j] = e.Versions[v].Count(c)
		}
	}
	return d, nil
}

// Share is the height in percent of class i's part of version j's bar.
func (d ChartData) Share(i, j int) float64 {
	return 100 * float64(d.Counts[i][j]) / float64(d.Trials[j])
}

// String renders the data as text: the title, then per bar its label and trials, and one line per part,
// bottom first.
func (d ChartData) String() string {
	var b strings.Builder
	b.WriteString(d.Title + "\n")
	for j, l := range d.Labels {
		fmt.Fprintf(&b, "bar %s, %d trials:\n", l, d.Trials[j])
		for i, c := range d.Classes {
			fmt.Fprintf(&b, "  %5.1f%% (%d) %s\n", d.Share(i, j), d.Counts[i][j], c)
		}
	}
	return b.String()
}

// Chart draws one experiment of a matrix as a PNG at path: one bar per kcp-go version (in m.Versions
// order, versions without a run left out), stacked by class share in percent, trials that fit no class
// in grey on top (see ChartData).
func Chart(m *Matrix, e *MatrixExperiment, path string) error {
	d, err := ChartOf(m, e)
	if err != nil {
		return err
	}
	vs, cols := d.Versions, d.Classes
	p := plot.New()
	p.Title.Text = d.Title
	p.Y.Label.Text = "share of trials (%)"
	p.X.Label.Text = d.Axis
	p.Legend.Top = true
	p.Legend.Left = true
	// Room above the bars for the legend (one row per class).
	p.Y.Min, p.Y.Max = 0, 100+10*float64(len(cols))
	p.Y.Tick.Marker = plot.ConstantTicks(percentTicks())
	p.NominalX(d.Labels...)

	width := vg.Points(min(60, 360/float64(len(vs))))
	var below *plotter.BarChart
	for i, c := range cols {
		vals := make(plotter.Values, len(vs))
		for j := range vs {
			vals[j] = d.Share(i, j)
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

// versionLabel is a version as a chart names it: the seed's release marked as such.
func versionLabel(v string) string {
	if v == "v5.4.20+incompatible" {
		return "v5.4.20 (seed)"
	}
	return v
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

// Charts draws one PNG per experiment of m into dir, named NAME-ID.png, and returns the path of each by
// experiment id, relative to rel (the directory of the document that links them).
func Charts(m *Matrix, dir, rel, name string) (map[string]string, error) {
	out := map[string]string{}
	for i := range m.Experiments {
		e := &m.Experiments[i]
		path := filepath.Join(dir, name+"-"+Slug(e.ID)+".png")
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
