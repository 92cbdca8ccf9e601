package experiments

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"kcplab/harness"
	"kcplab/kcpwire"
)

// dissector is the project's Lua dissector, relative to this package's directory.
var dissector, _ = filepath.Abs("../wireshark/kcp.lua")

// tsharkLadders decodes trials' pcapng files with tshark and the Lua dissector, independently of
// kcplab's decoder, and returns each trial's KCP segments with directions relative to its client port.
// One tshark run decodes them all: mergecap concatenates the files in order, and each trial's frames
// are the next len(tr.Datagrams) frame numbers.
func tsharkLadders(dir string, trials []harness.TrialResult) ([][]harness.Seg, error) {
	merged := filepath.Join(dir, "merged.pcapng")
	args := []string{"-a", "-w", merged}
	// Decode As on every trial's ports: an ephemeral port can be one that Wireshark gives to another
	// protocol (tshark -G decodes lists about thirty above 32768), and UDP tries the lower port first.
	dissect := []string{"-X", "lua_script:" + dissector}
	first := make([]int, len(trials)) // each trial's first frame number
	next := 1
	for i, tr := range trials {
		args = append(args, tr.Pcapng)
		dissect = append(dissect, "-d", fmt.Sprintf("udp.port==%d,kcp", tr.Trace.Server.Port()),
			"-d", fmt.Sprintf("udp.port==%d,kcp", tr.Trace.Client.Port()))
		first[i] = next
		next += len(tr.Trace.Datagrams)
	}
	if out, err := exec.Command("mergecap", args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mergecap: %v: %s", err, out)
	}
	cmd := exec.Command("tshark", append(dissect, "-r", merged, "-Y", "kcp", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,",
		"-e", "frame.number", "-e", "frame.time_epoch", "-e", "udp.srcport", "-e", "kcp.cmd", "-e", "kcp.sn", "-e", "kcp.una", "-e", "kcp.len", "-e", "kcp.wnd")...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("tshark: %v: %s", err, stderr.String())
	}
	if s := stderr.String(); strings.Contains(s, "Lua") || strings.Contains(s, "rror") {
		return nil, fmt.Errorf("tshark stderr: %s", s)
	}
	out := make([][]harness.Seg, len(trials))
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 8 {
			return nil, fmt.Errorf("%d fields in %q", len(f), line)
		}
		if f[3] == "" {
			continue // the dissector showed the datagram as not KCP (e.g. garbage-datagram's strays): no segment
		}
		frame, err := strconv.Atoi(f[0])
		if err != nil {
			return nil, fmt.Errorf("frame number in %q: %v", line, err)
		}
		i := sort.SearchInts(first, frame+1) - 1
		if i < 0 || frame >= first[i]+len(trials[i].Trace.Datagrams) {
			return nil, fmt.Errorf("frame %d belongs to no trial", frame)
		}
		tr := trials[i].Trace
		at, err := epoch(f[1])
		if err != nil {
			return nil, fmt.Errorf("frame %d: %v", frame, err)
		}
		dir := harness.S2C
		if f[2] == strconv.Itoa(int(tr.Client.Port())) {
			dir = harness.C2S
		}
		cols := [][]string{strings.Split(f[3], ","), strings.Split(f[4], ","), strings.Split(f[5], ","), strings.Split(f[6], ","), strings.Split(f[7], ",")}
		for k := range cols[0] {
			var v [5]uint64
			for c := range cols {
				if k >= len(cols[c]) {
					return nil, fmt.Errorf("frame %d: ragged fields in %q", frame, line)
				}
				if v[c], err = strconv.ParseUint(cols[c][k], 10, 32); err != nil {
					return nil, fmt.Errorf("frame %d: %v", frame, err)
				}
			}
			out[i] = append(out[i], harness.Seg{Dir: dir, Time: tr.Rel(at), Datagram: frame - first[i],
				Segment: kcpwire.Segment{Cmd: kcpwire.Cmd(v[0]), Sn: uint32(v[1]), Una: uint32(v[2]), Len: uint32(v[3]), Wnd: uint16(v[4])}})
		}
	}
	return out, nil
}

// epoch parses tshark's frame.time_epoch ("1764059000.123456789") without float rounding.
func epoch(s string) (time.Time, error) {
	sec, frac, _ := strings.Cut(s, ".")
	secs, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %v", s, err)
	}
	frac = (frac + "000000000")[:9]
	nanos, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %v", s, err)
	}
	return time.Unix(secs, nanos), nil
}

// verifyWithTshark checks that every classified trial's pcapng, decoded by tshark, shows the ladder of
// the class the trial was put in.
func verifyWithTshark(t *testing.T, res *harness.Result) {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark is not on PATH, so the pcapng files are not cross-checked: install it (Debian/Ubuntu: apt-get install tshark; make deps does)")
	}
	var trials []harness.TrialResult
	for _, tr := range res.Trials {
		if tr.Err == nil && tr.Pcapng != "" {
			trials = append(trials, tr)
		}
	}
	if len(trials) == 0 {
		return
	}
	ladders, err := tsharkLadders(t.TempDir(), trials)
	if err != nil {
		t.Errorf("tshark: %v", err)
		return
	}
	for i, tr := range trials {
		if err := onTheWire(tr.Class.Ladder).Match(ladders[i]); err != nil {
			t.Errorf("trial %d (%s): tshark's decoding of %s does not show its class's ladder:\n%v",
				tr.Trial, tr.Class.Name, keep(t, res.Experiment.ID, tr.Pcapng), err)
		}
	}
}

// onTheWire is a ladder without the steps that expect a segment the link dropped: a capture holds only
// what crossed the wire (the link's drops are comments in the pcapng, not packets).
func onTheWire(l harness.Ladder) harness.Ladder {
	var out harness.Ladder
	for _, s := range l {
		if !s.Lost {
			out = append(out, s)
		}
	}
	return out
}
