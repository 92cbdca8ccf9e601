package harness

import (
	"fmt"
	"strings"
	"time"

	"kcplab/capture"
	"kcplab/internal/kcpgo"
	"kcplab/internal/tolerance"
	"kcplab/link"
	"kcplab/pcapfile"
)

// Annotations builds the pcapng comments of a trial: the experiment, trial, class and every application
// event in the section comment, and each event again on the packet nearest to it in time (the last one
// at or before the event; the first one for events before any traffic).
func Annotations(e *Experiment, tr *Trace, class Class, failure error) pcapfile.Annotations {
	var b strings.Builder
	fmt.Fprintf(&b, "kcplab experiment %s trial %d: %s\n", e.ID, tr.Trial, e.Title)
	fmt.Fprintf(&b, "question: %s\n", e.Question)
	if class.Name != "" {
		fmt.Fprintf(&b, "class: %s\n", class.Name)
	}
	if failure != nil {
		fmt.Fprintf(&b, "FAILED: %v\n", failure)
	}
	kcpGo := kcpgo.Version()
	if tr.KCPGo != "" {
		kcpGo = tr.KCPGo
	}
	fmt.Fprintf(&b, "client %s, server %s, framing %s, kcp-go %s, accepted sessions: %d\n",
		tr.Client, tr.Server, e.Transport.Framing(), kcpGo, tr.Accepts)
	if l := tr.Link; l != nil {
		fmt.Fprintf(&b, "link between the peers: %s, seed %d (replay: kcplab run -link '%s' -seed %d -trials 1 %s)\n",
			l.Summary.Spec, l.Seed, l.Summary.Spec, l.Seed, e.ID)
		for _, d := range []struct {
			name string
			s    link.Stats
		}{{"c2s", l.Summary.C2S}, {"s2c", l.Summary.S2C}} {
			fmt.Fprintf(&b, "  %s: sent %d, delivered %d, dropped %d (loss %d, burst %d, drop list %d, blackhole %d, queue %d), duplicated %d, delayed %d\n",
				d.name, d.s.Sent, d.s.Delivered, d.s.Dropped.Total(), d.s.Dropped.Loss, d.s.Dropped.Burst, d.s.Dropped.DropList,
				d.s.Dropped.Blackhole, d.s.Dropped.QueueFull+d.s.Dropped.Overflow, d.s.Duplicated, d.s.Delayed)
		}
	}
	if tr.Stalls.Longest() > tolerance.Of(0) {
		fmt.Fprintf(&b, "machine load: the process stalled (%s, times from the client's Dial); no verdict depends on it\n", tr.Stalls)
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
	annotateLink(tr, ann)
	ann.Section = b.String()
	return ann
}

// annotateLink comments, on each packet the link delayed or duplicated, what it did, and on the packet
// before (or the first) each datagram it kept off the wire: what the sender sent and the link dropped.
func annotateLink(tr *Trace, ann pcapfile.Annotations) {
	if tr.Link == nil {
		return
	}
	// The n-th datagram the capture saw from a side is the link's n-th wire copy in that direction.
	var seen [2][]int // per direction: capture index of the n-th datagram from that side
	for i, dg := range tr.Datagrams {
		if d := tr.dir(dg); d.Valid() {
			seen[d.Index()] = append(seen[d.Index()], i)
		}
	}
	origin := tr.Start
	for _, r := range tr.Link.Records {
		d := r.Dir.Index()
		if r.DeliveredCopies() == 0 {
			i := nearestBefore(tr.Datagrams, r.Sent)
			if i >= 0 {
				ann.Packets[i] = append(ann.Packets[i], fmt.Sprintf("%+.3fs after the Dial: %s", r.Sent.Sub(origin).Seconds(), r))
			}
			continue
		}
		if r.Copied == 1 && r.Copies[0].Delay == 0 {
			continue // delivered as sent: nothing to say
		}
		for _, c := range r.Copies[:r.Copied] {
			if c.Fate == link.FateDelivered && c.Wire >= 0 && int(c.Wire) < len(seen[d]) {
				i := seen[d][c.Wire]
				ann.Packets[i] = append(ann.Packets[i], r.String())
			}
		}
	}
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

func writeTrialPcapng(path string, e *Experiment, tr *Trace, class Class, failure error) error {
	return pcapfile.WritePcapngFile(path, tr.Datagrams, Annotations(e, tr, class, failure))
}
