package harness

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"kcplab/capture"
	"kcplab/internal/dir"
	"kcplab/internal/kcpgo"
	"kcplab/kcpwire"
	"kcplab/link"
)

// Dir is the direction of a datagram between the trial's client and server, named by the end that
// sends it: the one direction type of capture, link and the harness (kcplab/internal/dir). A ladder
// prints it as Arrow ("c→s"); String names the sender ("client").
type Dir = dir.Dir

// Directions on the wire.
const (
	DirUnknown = dir.Unknown // between other addresses
	C2S        = dir.C2S     // client to server
	S2C        = dir.S2C     // server to client
)

// Seg is one decoded KCP segment of a trial, with where and when it travelled.
type Seg struct {
	kcpwire.Segment
	// Datagram is the index into Trace.Datagrams, or for a segment the link dropped, -1 minus the
	// index of its record among the dropped ones (segments of one datagram share it either way).
	Datagram int
	Time     time.Duration // since the trial's start (the client's Dial returned); sent, for a dropped one
	Dir      Dir
	Dropped  string // the link's reason when the segment never reached the wire (loss, blackhole, ...)
}

// String is a ladder line, e.g. "     0.4ms s→c ACK  sn=0 una=1 len=0 wnd=32 [#2]": [#2] is the
// datagram it travelled in (1-based), so segments that shared a datagram show the same number.
func (s Seg) String() string {
	if s.Dropped != "" {
		return fmt.Sprintf("%8.1fms %s %-4s sn=%d una=%d len=%d wnd=%d [dropped by the link: %s]", ms(s.Time), s.Dir.Arrow(), s.Cmd, s.Sn, s.Una, s.Len, s.Wnd, s.Dropped)
	}
	return fmt.Sprintf("%8.1fms %s %-4s sn=%d una=%d len=%d wnd=%d [#%d]", ms(s.Time), s.Dir.Arrow(), s.Cmd, s.Sn, s.Una, s.Len, s.Wnd, s.Datagram+1)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Trace is everything one trial produced: the datagrams on the wire, their decoded segments, and what
// the application roles did.
type Trace struct {
	Experiment string
	Trial      int
	Start      time.Time        // the client session was just created: its update ticks start here
	Client     netip.AddrPort   // the client's socket
	Server     netip.AddrPort   // the listener's socket
	Strays     []netip.AddrPort // the stray sockets the roles opened (Env.StraySocket)

	Datagrams  []capture.Datagram
	Segments   []Seg
	DecodeErrs []error // datagrams that did not decode as KCP, by index order
	Events     []Event
	Accepts    int // sessions the listener accepted

	ClientErr error   // what the client role returned
	ServerErr []error // what each accepted session's role returned, in accept order
	TornDown  []bool  // per accepted session: its role was still running at teardown and ended by it
	Stats     capture.Stats
	Stalls    Stalls     // when the process was stalled during the trial (machine load; see timing.go)
	Link      *TraceLink // the link between the peers, if the experiment had one
	// KCPGo names the peers' kcp-go versions when the roles ran in peer processes (peer.RunPair), e.g.
	// "server v5.6.1 × client v5.7.6"; empty when they ran in this process.
	KCPGo string

	owner *kcpgo.Owner // the trial's sessions' convs (crossed.go); nil when the roles ran in peers
}

// TraceLink is what a trial's link did: its seed (which replays its random decisions), its SPEC and
// counts, and the fate of every datagram each side sent.
type TraceLink struct {
	Seed    uint64
	Summary link.Summary
	Records []link.Record
}

// Decode fills Segments (and DecodeErrs) from Datagrams with the given framing.
func (tr *Trace) Decode(f kcpwire.Framing) {
	var d kcpwire.Datagram
	for i, dg := range tr.Datagrams {
		if err := d.Decode(dg.Payload, f); err != nil {
			tr.DecodeErrs = append(tr.DecodeErrs, fmt.Errorf("datagram %d: %w", i+1, err))
			continue
		}
		for _, s := range d.Segments {
			s.Data = append([]byte(nil), s.Data...)
			tr.Segments = append(tr.Segments, Seg{Segment: s, Datagram: i, Time: tr.Rel(dg.Time), Dir: tr.dir(dg)})
		}
	}
	if tr.Link == nil {
		return
	}
	// What the link kept off the wire: every datagram none of whose copies was delivered, at the time
	// its sender sent it.
	dropped := 0
	for _, r := range tr.Link.Records {
		if r.DeliveredCopies() > 0 || r.Payload == nil {
			continue
		}
		dropped++
		if err := d.Decode(r.Payload, f); err != nil {
			tr.DecodeErrs = append(tr.DecodeErrs, fmt.Errorf("%s: %w", r, err))
			continue
		}
		for _, s := range d.Segments {
			s.Data = append([]byte(nil), s.Data...)
			tr.Segments = append(tr.Segments, Seg{Segment: s, Datagram: -dropped, Time: tr.Rel(r.Sent), Dir: r.Dir, Dropped: r.Fate.String()})
		}
	}
	sort.SliceStable(tr.Segments, func(i, j int) bool { return tr.Segments[i].Time < tr.Segments[j].Time })
}

func (tr *Trace) dir(dg capture.Datagram) Dir {
	switch {
	case dg.Src == tr.Client && dg.Dst == tr.Server:
		return C2S
	case dg.Src == tr.Server && dg.Dst == tr.Client:
		return S2C
	}
	return DirUnknown
}

// Ladder renders the trace's segments one per line.
func (tr *Trace) Ladder() string {
	var b strings.Builder
	for _, s := range tr.Segments {
		b.WriteString(s.String())
		b.WriteByte('\n')
	}
	if len(tr.Segments) == 0 {
		b.WriteString("(no segments)\n")
	}
	return b.String()
}

// EventsOf returns the events of one side (and, for the server, one session; 0 means all sessions).
func (tr *Trace) EventsOf(side Side, session int) []Event {
	var out []Event
	for _, e := range tr.Events {
		if e.Side == side && (session == 0 || e.Session == session) {
			out = append(out, e)
		}
	}
	return out
}

// BytesRead is what a side's Reads returned, concatenated.
func (tr *Trace) BytesRead(side Side, session int) []byte {
	return tr.bytesOf(side, session, EvRead)
}

// BytesWritten is what a side's Writes accepted, concatenated.
func (tr *Trace) BytesWritten(side Side, session int) []byte {
	return tr.bytesOf(side, session, EvWrite)
}

// bytesOf concatenates the data of a side's successful events of one kind.
func (tr *Trace) bytesOf(side Side, session int, kind EventKind) []byte {
	var out []byte
	for _, e := range tr.EventsOf(side, session) {
		if e.Kind == kind && e.Err == nil {
			out = append(out, e.Data...)
		}
	}
	return out
}

// Rel is an absolute time as an offset from the trial's start, just before the client session was
// created: the origin of the client's update ticks, and of every time in a ladder.
func (tr *Trace) Rel(t time.Time) time.Duration {
	return t.Sub(tr.Start)
}

// Timeline renders segments and application events together, in time order: the wire ladder with
// what each side did beside it.
func (tr *Trace) Timeline() string {
	type line struct {
		at   time.Duration
		text string
	}
	lines := make([]line, 0, len(tr.Segments)+len(tr.Events))
	for _, s := range tr.Segments {
		lines = append(lines, line{s.Time, s.String()})
	}
	for _, e := range tr.Events {
		at := tr.Rel(e.Time)
		lines = append(lines, line{at, fmt.Sprintf("%8.1fms       %s", ms(at), e)})
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].at < lines[j].at })
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.text + "\n")
	}
	return b.String()
}
