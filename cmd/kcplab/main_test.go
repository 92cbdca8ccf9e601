package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/capture"
	"kcplab/internal/dir"
	"kcplab/internal/kcpgo"
	"kcplab/kcpwire"
	"kcplab/pcapfile"
	"kcplab/report"
)

func kcplab(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = program.Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

// decoded runs kcplab decode with args, which must succeed and print want lines, and returns them.
func decoded(t *testing.T, want int, args ...string) []string {
	t.Helper()
	code, out, errs := kcplab(t, append([]string{"decode"}, args...)...)
	require.Equal(t, 0, code, errs)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, want, out)
	return lines
}

// writeCapture writes a pcapng with a PUSH, a datagram with ACK+PUSH, and a datagram that is not KCP.
func writeCapture(t *testing.T) string {
	t.Helper()
	c := netip.MustParseAddrPort("127.0.0.1:40000")
	s := netip.MustParseAddrPort("127.0.0.1:8080")
	push := kcpwire.Segment{Conv: 7, Cmd: kcpwire.CmdPush, Wnd: 32, Data: []byte("handshake")}
	ack := kcpwire.Segment{Conv: 7, Cmd: kcpwire.CmdAck, Wnd: 32, Una: 1}
	resp := kcpwire.Segment{Conv: 7, Cmd: kcpwire.CmdPush, Wnd: 32, Una: 1, Ts: 5, Data: []byte("hello")}
	t0 := time.Unix(1700000000, 0)
	dgs := []capture.Datagram{
		{Time: t0, Src: c, Dst: s, Payload: push.AppendTo(nil), Side: dir.C2S},
		{Time: t0.Add(time.Millisecond), Src: s, Dst: c, Payload: resp.AppendTo(ack.AppendTo(nil)), Side: dir.S2C},
		{Time: t0.Add(2 * time.Millisecond), Src: c, Dst: s, Payload: []byte("not kcp"), Side: dir.C2S},
	}
	path := filepath.Join(t.TempDir(), "x.pcapng")
	require.NoError(t, pcapfile.WritePcapngFile(path, dgs, pcapfile.Annotations{}))
	return path
}

func TestDecodeText(t *testing.T) {
	t.Parallel()
	lines := decoded(t, 4, writeCapture(t))
	assert.Contains(t, lines[0], "127.0.0.1:40000 → 127.0.0.1:8080")
	assert.Contains(t, lines[0], "PUSH conv=7 sn=0 una=0 frg=0 wnd=32 ts=0 len=9")
	assert.Contains(t, lines[1], "ACK  conv=7 sn=0 una=1")
	assert.Contains(t, lines[2], "PUSH conv=7 sn=0 una=1 frg=0 wnd=32 ts=5 len=5")
	assert.True(t, strings.HasPrefix(strings.TrimSpace(lines[2]), "2   0.001000 "), "frame number, then time: %q", lines[2])
	assert.Contains(t, lines[3], "not KCP (7 bytes)")
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	path := writeCapture(t)
	code, out, errs := kcplab(t, "decode", "-json", "-framing", "plain", path)
	require.Equal(t, 0, code, errs)
	objs := jsonLines(t, out)
	require.Len(t, objs, 4)
	for _, k := range []string{"file", "frame", "t", "src", "dst", "conv", "cmd", "cmd_num", "frg", "wnd", "ts", "sn", "una", "len", "datagram", "truncated", "bytes"} {
		assert.Contains(t, objs[0], k)
	}
	assert.Equal(t, path, objs[0]["file"])
	assert.Equal(t, "PUSH", objs[0]["cmd"])
	assert.EqualValues(t, 81, objs[0]["cmd_num"])
	assert.EqualValues(t, 9, objs[0]["len"])
	assert.Equal(t, false, objs[0]["truncated"])
	assert.EqualValues(t, 2, objs[2]["datagram"])
	assert.EqualValues(t, 2, objs[2]["frame"])
	assert.EqualValues(t, 0.001, objs[2]["t"])
	assert.Contains(t, objs[3], "error")
	assert.NotContains(t, objs[3], "cmd")
}

// jsonLines parses one JSON object per line.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), sc.Text())
		objs = append(objs, m)
	}
	return objs
}

func TestBadInputExitsTwo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notCapture := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(notCapture, []byte("hello, this is not a capture file at all"), 0o644))
	good := writeCapture(t)
	cut := cutCopy(t, good)

	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no command", nil, "usage"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"unknown experiment", []string{"run", "p999"}, `unknown experiment "p999"`},
		{"bad flag", []string{"run", "-trails", "3"}, "flag provided but not defined"},
		{"bad trials", []string{"run", "-trials", "-1", "p003"}, "-trials: want 0..100000"},
		{"bad capture", []string{"run", "-capture", "wifi", "p003"}, "unknown capture"},
		{"bad framing", []string{"decode", "-framing", "zip", good}, "-framing"},
		{"no file", []string{"decode"}, "no capture file"},
		{"missing file", []string{"decode", filepath.Join(dir, "nope.pcapng")}, "nope.pcapng"},
		{"not a capture", []string{"decode", notCapture}, "notes.txt"},
		{"cut off", []string{"decode", cut}, "cut.pcapng"},
		{"bad encrypted port", []string{"decode", "-encrypted-port", "70000", good}, "-encrypted-port"},
		{"list with args", []string{"list", "extra"}, "no arguments"},
		{"unknown experiment, flags after", []string{"run", "p999", "-trials", "2"}, `unknown experiment "p999"`},
		{"bad flag after id", []string{"run", "p003", "-trails", "2"}, "flag provided but not defined: -trails"},
		{"flag without value after id", []string{"run", "p003", "-trials"}, "flag needs an argument"},
		{"bad flag after file", []string{"decode", good, "-framing", "zip"}, "-framing"},
		{"results: unknown experiment after flag", []string{"results", "-trials", "2", "p999"}, `unknown experiment "p999"`},
		{"run: -out a file", []string{"run", "-out", notCapture, "-trials", "2", "p001"}, notCapture + " is not a directory"},
		{"results: -o a directory", []string{"results", "-o", dir, "-trials", "2", "p001"}, "-o: " + dir + " is a directory"},
		{"results: -o in a file", []string{"results", "-o", filepath.Join(notCapture, "R.md"), "-trials", "2", "p001"}, "-o: " + notCapture + " is not a directory"},
		{"results: -testdata in a file", []string{"results", "-testdata", filepath.Join(notCapture, "td"), "-trials", "2", "p001"}, "-testdata: " + filepath.Join(notCapture, "td") + ": " + notCapture + " is not a directory"},
		{"crosstalk: -results in a file", []string{"crosstalk", "-results", filepath.Join(notCapture, "R.md")}, "-results: " + notCapture + " is not a directory"},
		{"hosts: -results a directory", []string{"hosts", "-on", "loopback", "-results", dir}, "-results: " + dir + " is a directory"},
		{"matrix: -results in a file", []string{"matrix", "-results", filepath.Join(notCapture, "R.md"), "p001"}, "-results: " + notCapture + " is not a directory"},
		{"merge: -results in a file", []string{"merge", "-out", filepath.Join(dir, "merged"), "-results", filepath.Join(notCapture, "R.md"), dir}, "-results: " + notCapture + " is not a directory"},
		{"claims: -results in a file", []string{"claims", "-results", filepath.Join(notCapture, "R.md")}, "-results: " + notCapture + " is not a directory"},
		{"matrix: -cache in a file", []string{"matrix", "-cache", filepath.Join(notCapture, "c"), "-versions", "v5.7.6", "p001"}, "-cache: " + filepath.Join(notCapture, "c") + ": " + notCapture + " is not a directory"},
		{"crosstalk: -cache in a file", []string{"crosstalk", "-cache", filepath.Join(notCapture, "c"), "-versions", "v5.7.6"}, "-cache: " + filepath.Join(notCapture, "c") + ": " + notCapture + " is not a directory"},
		{"results: -from a missing file", []string{"results", "-from", filepath.Join(dir, "RESULTS.nope"), "-trials", "2", "p001"}, "-from: open"},
		{"crosstalk: bad seconds", []string{"crosstalk", "-seconds", "0"}, "-seconds: want 1..600"},
		{"crosstalk: argument", []string{"crosstalk", "p003"}, "no arguments"},
		{"crosstalk: unknown version", []string{"crosstalk", "-versions", "v9.9.9"}, "v9.9.9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, errs := kcplab(t, tc.args...)
			assert.Equal(t, 2, code)
			assert.Contains(t, errs, tc.want)
		})
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	code, out, _ := kcplab(t, "list")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "p003 ")
	assert.Contains(t, out, "p003-linger")
}

func TestRunWritesTrialsAndSummary(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	code, stdout, errs := kcplab(t, "run", "-trials", "2", "-out", out, "p003-linger")
	require.Equal(t, 0, code, errs+stdout)
	var sum struct {
		Experiment string         `json:"experiment"`
		Classes    map[string]int `json:"classes"`
		Trials     []struct {
			Trial  int    `json:"trial"`
			Class  string `json:"class"`
			Pcapng string `json:"pcapng"`
		} `json:"trials"`
	}
	b, err := os.ReadFile(filepath.Join(out, "p003-linger", "summary.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &sum))
	assert.Equal(t, "p003-linger", sum.Experiment)
	require.Len(t, sum.Trials, 2)
	counted := map[string]int{}
	for i, tr := range sum.Trials {
		assert.Equal(t, i+1, tr.Trial)
		assert.NotEmpty(t, tr.Class)
		counted[tr.Class]++
		assert.FileExists(t, filepath.Join(out, "p003-linger", tr.Pcapng))
		assert.Contains(t, stdout, tr.Class)
	}
	for class, n := range counted {
		assert.Equal(t, n, sum.Classes[class], "classes[%q] in summary.json", class)
	}

	// matrix.json holds the same counts, for kcplab compare.
	mx, err := report.ReadMatrix(filepath.Join(out, "matrix.json"))
	require.NoError(t, err)
	require.Len(t, mx.Versions, 1)
	require.Len(t, mx.Experiments, 1)
	vc := mx.Experiments[0].Versions[mx.Versions[0]]
	require.NotNil(t, vc)
	assert.Equal(t, 2, vc.Trials)
	assert.Equal(t, sum.Classes, vc.Classes)
	assert.Equal(t, "tap", vc.Capture)
	code, stdout, errs = kcplab(t, "compare", out, out)
	assert.Equal(t, 0, code, errs+stdout)
}

func TestDecodeFlagAfterFile(t *testing.T) {
	t.Parallel()
	code, out, errs := kcplab(t, "decode", writeCapture(t), "-json")
	require.Equal(t, 0, code, errs)
	assert.True(t, strings.HasPrefix(out, "{"), out)
}

// TestResultsWritesUnderOut: `kcplab results` leaves -from alone and writes the new results file and the
// example captures under -out, linked relative to the results file.
func TestResultsWritesUnderOut(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	from := filepath.Join(dir, "RESULTS.md")
	committed := "# kcplab results\n\nprose kept\n\n<!-- kcplab:begin summary -->\n- **p001** (200 trials): this line is not read.\n<!-- kcplab:end summary -->\n"
	require.NoError(t, os.WriteFile(from, []byte(committed), 0o644))
	// The committed counts beside it: p001 and p002 are kept, p003-linger's are replaced by this run's.
	// The summary comes from them: p001's answer, and no line for p002, whose counts hold none.
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "testdata"), 0o755))
	cell := func(trials int, answer string) map[string]*report.VersionCounts {
		return map[string]*report.VersionCounts{kcpgo.Version(): {Trials: trials, Classes: map[string]int{}, Answer: answer}}
	}
	require.NoError(t, report.WriteMatrix(filepath.Join(dir, "testdata", "matrix.json"), &report.Matrix{Versions: []string{kcpgo.Version()},
		Experiments: []report.MatrixExperiment{{ID: "p001", Versions: cell(200, "p001's answer.")}, {ID: "p002", Versions: cell(200, "")},
			{ID: "p003-linger", Versions: cell(200, "old")}}}))
	out := filepath.Join(dir, "out")
	code, stdout, errs := kcplab(t, "results", "p003-linger", "-trials", "2", "-out", out, "-from", from)
	require.Equal(t, 0, code, errs+stdout)
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	assert.Equal(t, committed, string(b), "-from must not change")
	md, err := os.ReadFile(filepath.Join(out, "RESULTS.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "prose kept")
	assert.Contains(t, string(md), "<!-- kcplab:begin summary -->\n- **p001** (200 trials): p001's answer.\n- **p003-linger** (2 trials): ",
		"p001's summary line from its kept counts, p003-linger's from this run after it")
	assert.Contains(t, errs, "has no line for p002: their kept counts hold no answer")
	assert.Contains(t, string(md), "<!-- kcplab:begin p003-linger -->")
	assert.Contains(t, string(md), "](testdata/p003-linger/")
	files, err := filepath.Glob(filepath.Join(out, "testdata", "p003-linger", "*.pcapng"))
	require.NoError(t, err)
	assert.NotEmpty(t, files)
	counts, err := report.ReadMatrix(filepath.Join(out, "testdata", "matrix.json"))
	require.NoError(t, err, "the counts RESULTS.md reports, beside its captures")
	require.Len(t, counts.Experiments, 3)
	assert.Equal(t, "p001", counts.Experiments[0].ID)
	assert.Equal(t, 200, counts.Experiments[0].Versions[kcpgo.Version()].Trials, "p001 not run: its committed counts kept")
	assert.Equal(t, "p003-linger", counts.Experiments[2].ID)
	lingered := counts.Experiments[2].Versions[kcpgo.Version()]
	assert.Equal(t, 2, lingered.Trials, "p003-linger's counts are this run's")
	assert.NotEmpty(t, lingered.Answer, "p003-linger's counts keep this run's answer")
	assert.NotEqual(t, "old", lingered.Answer)
	own, err := report.ReadMatrix(filepath.Join(out, "matrix.json"))
	require.NoError(t, err)
	assert.Len(t, own.Experiments, 1, "OUT/matrix.json is the run's own")
}

// TestRunRemovesOldTrials: a run of fewer trials leaves no capture of an earlier, longer run.
func TestRunRemovesOldTrials(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	dir := filepath.Join(out, "p003-linger")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	stale := filepath.Join(dir, "trial-007.pcapng")
	other := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(stale, nil, 0o644))
	require.NoError(t, os.WriteFile(other, nil, 0o644))
	code, stdout, errs := kcplab(t, "run", "p003-linger", "-trials", "1", "-out", out)
	require.Equal(t, 0, code, errs+stdout)
	assert.NoFileExists(t, stale)
	assert.FileExists(t, other)
	assert.FileExists(t, filepath.Join(dir, "trial-001.pcapng"))
}
