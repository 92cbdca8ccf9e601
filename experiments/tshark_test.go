package experiments

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"kcplab/harness"
	"kcplab/kcpwire"
)

// dissector is the project's Lua dissector, relative to this package's directory.
var dissector, _ = filepath.Abs("../wireshark/kcp.lua")

// tsharkLadder decodes a pcapng with tshark and the Lua dissector, independently of kcplab's decoder,
// and returns its KCP segments with directions relative to the trial's client port.
func tsharkLadder(path string, tr *harness.Trace) ([]harness.Seg, error) {
	// Decode As on both ports: an ephemeral port can be one that Wireshark gives to another protocol
	// (tshark -G decodes lists about thirty above 32768), and UDP tries the lower port first.
	cmd := exec.Command("tshark", "-X", "lua_script:"+dissector,
		"-d", fmt.Sprintf("udp.port==%d,kcp", tr.Server.Port()), "-d", fmt.Sprintf("udp.port==%d,kcp", tr.Client.Port()),
		"-r", path, "-Y", "kcp", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,",
		"-e", "frame.time_epoch", "-e", "udp.srcport", "-e", "kcp.cmd", "-e", "kcp.sn", "-e", "kcp.una", "-e", "kcp.len")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("tshark: %v: %s", err, stderr.String())
	}
	if s := stderr.String(); strings.Contains(s, "Lua") || strings.Contains(s, "rror") {
		return nil, fmt.Errorf("tshark stderr: %s", s)
	}
	var segs []harness.Seg
	for i, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 6 {
			return nil, fmt.Errorf("frame %d: %d fields in %q", i+1, len(f), line)
		}
		at, err := epoch(f[0])
		if err != nil {
			return nil, fmt.Errorf("frame %d: %v", i+1, err)
		}
		dir := harness.S2C
		if f[1] == strconv.Itoa(int(tr.Client.Port())) {
			dir = harness.C2S
		}
		cols := [][]string{strings.Split(f[2], ","), strings.Split(f[3], ","), strings.Split(f[4], ","), strings.Split(f[5], ",")}
		for k := range cols[0] {
			var v [4]uint64
			for c := range cols {
				if k >= len(cols[c]) {
					return nil, fmt.Errorf("frame %d: ragged fields in %q", i+1, line)
				}
				if v[c], err = strconv.ParseUint(cols[c][k], 10, 32); err != nil {
					return nil, fmt.Errorf("frame %d: %v", i+1, err)
				}
			}
			segs = append(segs, harness.Seg{Dir: dir, Time: tr.Rel(at),
				Segment: kcpwire.Segment{Cmd: kcpwire.Cmd(v[0]), Sn: uint32(v[1]), Una: uint32(v[2]), Len: uint32(v[3])}})
		}
	}
	return segs, nil
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
		t.Log("tshark not found: pcapng files not cross-checked (CI installs it; apt-get install tshark)")
		return
	}
	classes := map[string]harness.Class{}
	for _, c := range res.Experiment.Classes {
		classes[c.Name] = c
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for _, tr := range res.Trials {
		if tr.Err != nil || tr.Pcapng == "" {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			segs, err := tsharkLadder(tr.Pcapng, tr.Trace)
			if err != nil {
				t.Errorf("trial %d: %v", tr.Trial, err)
				return
			}
			if err := classes[tr.Class].Ladder.Match(segs, tr.Trace.Stalls); err != nil {
				t.Errorf("trial %d (%s): tshark's decoding of %s does not show its class's ladder:\n%v",
					tr.Trial, tr.Class, keep(t, res.Experiment.ID, tr.Pcapng), err)
			}
		}()
	}
	wg.Wait()
}
