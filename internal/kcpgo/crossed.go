package kcpgo

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
)

// Sessions run side by side in one process, and kcp-go v5.7.6 can send one session's datagram through
// another session's socket. Its post-process workers serve every session of the process
// (postprocess.go:172-214). A worker pops a datagram of session A into its batch, sees more queued
// (sess.go:847), and loops; A's Close empties that queue meanwhile (discardPostProcess, sess.go:541);
// the worker's next pop fails and it returns with A's datagram still in its batch (sess.go:763-766).
// The next session B it serves appends its own and sends the batch from B's socket (sess.go:854-856),
// A's datagram to A's peer included: a trial's socket sends a datagram of another trial's conv (an
// ACK, say) to that trial's peer.
//
// The conv registry below tells such a datagram apart: every conv a trial dials is registered to that
// trial's Owner, so a segment in a trial's capture whose conv another Owner registered came from that
// other trial's session (the harness runs such a trial again: harness/crossed.go). CrossTalk
// (crosstalk.go) measures how often the defect occurs.

// Owner identifies one run of one trial (a re-run is another Owner) in the conv registry.
type Owner struct {
	Exp   string // the experiment's id
	Trial int    // the trial's number
}

// String names the run the way a crossing reports it: "ID trial N".
func (o *Owner) String() string { return fmt.Sprintf("%s trial %d", o.Exp, o.Trial) }

// convOwners maps every conv an Owner of this process registered to it (*Owner). Entries are never
// removed: a crossing can be found after its source trial ended, and a process runs a bounded number
// of trials (a few bytes each).
var convOwners sync.Map

// RandomConv returns a conv drawn from crypto/rand, registered to no one.
func RandomConv() (uint32, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

// NewConv returns a random conv for a session of o's trial, registered as o's and taken by no other
// Owner (unregistered for a nil o).
func (o *Owner) NewConv() (uint32, error) {
	for {
		conv, err := RandomConv()
		if err != nil || o == nil {
			return conv, err
		}
		if _, taken := convOwners.LoadOrStore(conv, o); !taken {
			return conv, nil
		}
	}
}

// Owns reports whether o registered conv: it is the conv of one of o's trial's sessions.
func (o *Owner) Owns(conv uint32) bool {
	v, ok := convOwners.Load(conv)
	return ok && v.(*Owner) == o
}

// CrossedBy returns the Owner that registered conv, when that is another Owner than o: a segment of
// o's trial that carries conv was sent by that Owner's session. Nil when conv is o's or no one's.
func (o *Owner) CrossedBy(conv uint32) *Owner {
	v, ok := convOwners.Load(conv)
	if !ok || v.(*Owner) == o {
		return nil
	}
	return v.(*Owner)
}
