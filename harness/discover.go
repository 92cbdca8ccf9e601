package harness

import (
	"fmt"
	"math"
	"strings"

	"kcplab/kcpwire"
)

// DiscoveredPrefix starts the name of every class a run discovered rather than an experiment named.
const DiscoveredPrefix = "unnamed: "

// Signature says what happened in a trial, with timing left out: the datagrams on the wire (each as
// its segments, identical datagrams in a row counted once with ×N), what each side's application
// read and how its last Read ended, and how many sessions the listener accepted. Two trials with one
// signature had the same outcome; a run with Discover groups the trials that fit no named class by it.
//
// Example: "c→s PUSH0 | s→c ACK0 | s→c PUSH0 | c→s ACK0; client read all, Read ended timeout;
// server#1 read all, Read ended timeout; 1 session(s)". Read is "all", "part" or "nothing" of what
// the peer wrote (every session of it, for the client).
func Signature(tr *Trace) string {
	var b strings.Builder
	wire := datagramPatterns(tr)
	if len(wire) == 0 {
		b.WriteString("nothing on the wire")
	}
	for i := 0; i < len(wire); {
		j := i
		for j < len(wire) && wire[j] == wire[i] {
			j++
		}
		if i > 0 {
			b.WriteString(" | ")
		}
		b.WriteString(wire[i])
		if j-i > 1 {
			fmt.Fprintf(&b, " ×%d", j-i)
		}
		i = j
	}
	b.WriteString("; ")
	b.WriteString(appOutcome(tr, Client, 0))
	for s := 1; s <= tr.Accepts; s++ {
		b.WriteString("; ")
		b.WriteString(appOutcome(tr, Server, s))
	}
	fmt.Fprintf(&b, "; %d session(s)", tr.Accepts)
	return b.String()
}

// datagramPatterns renders each datagram as its direction and segments, e.g. "s→c ACK0+PUSH0".
func datagramPatterns(tr *Trace) []string {
	var out []string
	last := math.MinInt
	for _, s := range tr.Segments {
		seg := fmt.Sprintf("%s%d", cmdShort(s.Cmd), s.Sn)
		if s.Dropped != "" {
			seg += "(dropped)"
		}
		if s.Datagram == last {
			out[len(out)-1] += "+" + seg
			continue
		}
		out = append(out, fmt.Sprintf("%s %s", s.Dir.Arrow(), seg))
		last = s.Datagram
	}
	for range tr.DecodeErrs {
		out = append(out, "undecodable")
	}
	return out
}

func cmdShort(c kcpwire.Cmd) string {
	switch c {
	case kcpwire.CmdPush, kcpwire.CmdAck, kcpwire.CmdWask, kcpwire.CmdWins:
		return c.String()
	}
	return fmt.Sprintf("cmd%d", uint8(c))
}

// appOutcome is what one side's application got: bytes read of those its peer wrote, and how its
// last Read ended.
func appOutcome(tr *Trace, side Side, session int) string {
	peer, who := Server, side.String()
	if side == Server {
		peer, who = Client, fmt.Sprintf("server#%d", session)
	}
	read, wrote := len(tr.BytesRead(side, session)), len(tr.BytesWritten(peer, 0))
	got := "part"
	switch {
	case read == 0:
		got = "nothing"
	case read == wrote:
		got = "all"
	}
	last := "never read"
	for _, e := range tr.EventsOf(side, session) {
		if e.Kind == EvRead {
			last = "Read ended " + ErrClass(e.Err)
		}
	}
	return fmt.Sprintf("%s read %s, %s", who, got, last)
}

// discover names a trial that fits no class by its signature, with the invariants it breaks.
func discover(e *Experiment, tr *Trace) Class {
	name := DiscoveredPrefix + Signature(tr)
	var broken []string
	for _, inv := range e.Invariants {
		if inv.Fn(tr) != nil {
			broken = append(broken, inv.Name)
		}
	}
	if len(broken) > 0 {
		name += "; breaks: " + strings.Join(broken, "; ")
	}
	return Class{Name: name}
}
