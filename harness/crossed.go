package harness

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
)

// Trials run side by side in one process, and kcp-go v5.7.6 can send one session's datagram through
// another session's socket. Its post-process workers serve every session of the process
// (postprocess.go:172-214). A worker pops a datagram of session A into its batch, sees more queued
// (sess.go:847), and loops; A's Close empties that queue meanwhile (discardPostProcess, sess.go:541);
// the worker's next pop fails and it returns with A's datagram still in its batch (sess.go:763-766).
// The next session B it serves appends its own and sends the batch from B's socket (sess.go:854-856),
// A's datagram to A's peer included. Seen in `make test` under load: a server-restart trial's socket
// sent an ACK of another trial's conv, to that trial's client.
//
// In one process with one listener, such a datagram leaves late from the right socket; between trials it
// leaves from another trial's socket, so it says nothing about the trial it lands in. The harness knows
// every conv its trials dial: a trial whose capture holds a segment with another trial's conv was
// crossed by it. runTrials runs a crossed trial again (up to maxCrossedRuns attempts), keeps the crossed
// capture, and counts it in Result.Crossed.

// maxCrossedRuns bounds the attempts of one trial that other trials' datagrams keep crossing.
const maxCrossedRuns = 4

// trialOwner identifies one run of one trial (a re-run is another owner) for the conv registry.
type trialOwner struct {
	exp   string
	trial int
}

// convOwners maps every conv a trial of this process dialed to its trial (*trialOwner). Entries are
// never removed: a crossing can be found after its source trial ended, and a process runs a bounded
// number of trials (a few bytes each).
var convOwners sync.Map

// randomConv returns a conv drawn from crypto/rand.
func randomConv() (uint32, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

// newConv returns a random conv for a session of o's trial, registered as o's (unregistered for a nil o).
func (o *trialOwner) newConv() (uint32, error) {
	for {
		conv, err := randomConv()
		if err != nil || o == nil {
			return conv, err
		}
		if _, taken := convOwners.LoadOrStore(conv, o); !taken {
			return conv, nil
		}
	}
}

// Crossing is a datagram of another trial's session that kcp-go sent through a socket of this trial.
type Crossing struct {
	By       string `json:"by"`       // the other trial: "ID trial N"
	Conv     uint32 `json:"conv"`     // the other trial's conv
	Datagram int    `json:"datagram"` // 1-based, in the trial's capture (0 or less: one the link dropped)
}

func (c Crossing) Error() string {
	where := fmt.Sprintf("datagram #%d", c.Datagram)
	if c.Datagram <= 0 {
		where = "a datagram the link dropped"
	}
	return fmt.Sprintf("crossed by %s: %s carries its conv %d, sent through this trial's socket by kcp-go's shared post-process workers (see harness/crossed.go)", c.By, where, c.Conv)
}

// crossing finds the first segment of tr whose conv another trial dialed.
func (tr *Trace) crossing() (Crossing, bool) {
	if tr.owner == nil {
		return Crossing{}, false
	}
	for _, s := range tr.Segments {
		v, ok := convOwners.Load(s.Conv)
		if !ok || v.(*trialOwner) == tr.owner {
			continue
		}
		o := v.(*trialOwner)
		return Crossing{Datagram: s.Datagram + 1, Conv: s.Conv, By: fmt.Sprintf("%s trial %d", o.exp, o.trial)}, true
	}
	return Crossing{}, false
}

// CrossedRun is an attempt of a trial that another trial crossed, run again; its capture is kept.
type CrossedRun struct {
	Crossing
	Pcapng string `json:"pcapng,omitempty"` // the crossed attempt's capture, if written
}
