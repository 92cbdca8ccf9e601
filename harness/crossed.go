package harness

import (
	"fmt"
	"slices"
)

// Trials run side by side in one process, and kcp-go v5.7.6 can send one session's datagram through
// another session's socket (the defect, with kcp-go's source lines: internal/kcpgo/crossed.go).
//
// In one process with one listener, such a datagram leaves late from the right socket; between trials it
// leaves from another trial's socket, so it says nothing about the trial it lands in. The harness knows
// every conv its trials dial (kcpgo.Owner registers them): a trial whose capture holds a segment with
// another trial's conv was crossed by it, and so was one whose capture holds a segment of its own
// conv from an address that is none of its own (one of its sessions' datagrams, sent through another
// trial's socket). runTrials runs a crossed trial again (up to maxCrossedRuns
// attempts), keeps the crossed capture, and counts it in Result.Crossed.

// maxCrossedRuns bounds the attempts of one trial that other trials' datagrams keep crossing.
const maxCrossedRuns = 4

// Crossing is a datagram of another trial's session that kcp-go sent through a socket of this trial.
type Crossing struct {
	By       string `json:"by"`       // the other trial: "ID trial N"
	Conv     uint32 `json:"conv"`     // the other trial's conv
	Datagram int    `json:"datagram"` // 1-based, in the trial's capture (0 or less: one the link dropped)
	// Foreign is true when the datagram carries this trial's own conv from another trial's socket.
	Foreign bool `json:"foreign_socket,omitempty"`
	// Outside is true when the datagram is a session of another process's (a port the kernel gave this
	// trial had been its peer's).
	Outside bool `json:"outside_process,omitempty"`
}

// Error says which trials crossed and how.
func (c Crossing) Error() string {
	where := fmt.Sprintf("datagram #%d", c.Datagram)
	if c.Datagram <= 0 {
		where = "a datagram the link dropped"
	}
	if c.Outside {
		return fmt.Sprintf("crossed by %s: %s carries conv %d, which no trial of this process dialed, between this trial and an address that is none of its sockets (a port reused across processes)", c.By, where, c.Conv)
	}
	if c.Foreign {
		return fmt.Sprintf("crossed by %s: %s carries this trial's conv %d from a socket that is not this trial's, sent there by kcp-go's shared post-process workers (see harness/crossed.go)", c.By, where, c.Conv)
	}
	return fmt.Sprintf("crossed by %s: %s carries its conv %d, sent through this trial's socket by kcp-go's shared post-process workers (see harness/crossed.go)", c.By, where, c.Conv)
}

// crossing finds the first segment of tr whose conv another trial dialed, or that carries tr's own
// conv from an address that is neither of tr's ends, or whose conv no trial of this process dialed and
// that travels between tr and an address that is none of its sockets.
func (tr *Trace) crossing() (Crossing, bool) {
	if tr.owner == nil {
		return Crossing{}, false
	}
	for _, s := range tr.Segments {
		if by := tr.owner.CrossedBy(s.Conv); by != nil {
			return Crossing{Datagram: s.Datagram + 1, Conv: s.Conv, By: by.String()}, true
		}
		if s.Dir == DirUnknown && tr.owner.Owns(s.Conv) {
			return Crossing{Datagram: s.Datagram + 1, Conv: s.Conv, By: "another trial's socket", Foreign: true}, true
		}
		if s.Dir == DirUnknown && s.Datagram >= 0 && s.Datagram < len(tr.Datagrams) && tr.owner.CrossedBy(s.Conv) == nil &&
			!tr.owner.Owns(s.Conv) {
			// A conv no trial of this process dialed, between one of the trial's ends and an address that
			// is none of its sockets (not a stray the role opened): a session of another process still
			// sending to a port the kernel has since given to this trial, or answered there.
			dg := tr.Datagrams[s.Datagram]
			other := dg.Src
			if other == tr.Client || other == tr.Server {
				other = dg.Dst
			}
			if !slices.Contains(tr.Strays, other) {
				return Crossing{Datagram: s.Datagram + 1, Conv: s.Conv, By: "a socket outside this process (" + other.String() + ")", Outside: true}, true
			}
		}
	}
	return Crossing{}, false
}

// CrossedRun is an attempt of a trial that another trial crossed, or that a freeze of the process
// broke (freeze.go), run again; its capture is kept.
type CrossedRun struct {
	*Crossing         // the crossing, for a crossed attempt
	Froze     *Freeze `json:"froze,omitempty"`  // the freeze, for a frozen attempt
	Pcapng    string  `json:"pcapng,omitempty"` // the attempt's capture, if written
}

// Error says why the attempt was run again.
func (c CrossedRun) Error() string {
	if c.Froze != nil {
		return c.Froze.Error()
	}
	return c.Crossing.Error()
}
