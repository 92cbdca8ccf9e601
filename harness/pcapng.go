package harness

import (
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"kcplab/capture"
	"kcplab/pcapfile"
)

// PinnedKCPGo is the kcp-go version go.mod pins (a test keeps the two equal).
const PinnedKCPGo = "v5.6.72"

// KCPGoVersion returns the version of kcp-go linked into this binary, from its build information
// (test binaries carry none: then the pinned version).
func KCPGoVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "github.com/xtaci/kcp-go/v5" && m.Version != "" {
				return m.Version
			}
		}
	}
	return PinnedKCPGo
}

// Annotations builds the pcapng comments of a trial: the experiment, trial, class and every application
// event in the section comment, and each event again on the packet nearest to it in time (the last one
// at or before the event; the first one for events before any traffic).
func Annotations(e *Experiment, tr *Trace, class string, failure error) pcapfile.Annotations {
	var b strings.Builder
	fmt.Fprintf(&b, "kcplab experiment %s trial %d: %s\n", e.ID, tr.Trial, e.Title)
	fmt.Fprintf(&b, "question: %s\n", e.Question)
	if class != "" {
		fmt.Fprintf(&b, "class: %s\n", class)
	}
	if failure != nil {
		fmt.Fprintf(&b, "FAILED: %v\n", failure)
	}
	fmt.Fprintf(&b, "client %s, server %s, framing %s, kcp-go %s, accepted sessions: %d\n",
		tr.Client, tr.Server, e.Transport.Framing(), KCPGoVersion(), tr.Accepts)
	if tr.TimerLate > Tolerance(0) {
		fmt.Fprintf(&b, "machine load: the process stalled up to %v (%s after the client's dial); timed steps allowed for it\n",
			tr.TimerLate.Round(100*time.Microsecond), tr.Stalls)
	}
	b.WriteString("application events (seconds from the first datagram, as Wireshark's relative time):\n")
	origin := tr.Start
	if len(tr.Datagrams) > 0 {
		origin = tr.Datagrams[0].Time
	}
	ann := pcapfile.Annotations{Packets: map[int][]string{}}
	for _, ev := range tr.Events {
		line := fmt.Sprintf("%+.3fs %s", ev.Time.Sub(origin).Seconds(), ev)
		b.WriteString("  " + line + "\n")
		if i := nearestBefore(tr.Datagrams, ev.Time); i >= 0 {
			ann.Packets[i] = append(ann.Packets[i], line)
		}
	}
	ann.Section = b.String()
	return ann
}

func nearestBefore(dgs []capture.Datagram, t time.Time) int {
	best := -1
	for i, d := range dgs {
		if d.Time.After(t) {
			break
		}
		best = i
	}
	if best < 0 && len(dgs) > 0 {
		return 0
	}
	return best
}

func writeTrialPcapng(path string, e *Experiment, tr *Trace, class string, failure error) error {
	return pcapfile.WritePcapngFile(path, tr.Datagrams, Annotations(e, tr, class, failure))
}
