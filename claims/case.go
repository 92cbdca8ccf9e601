package claims

import (
	"context"
	"errors"
	"fmt"
	"time"

	"kcplab/hosts"
	"kcplab/internal/dir"
	"kcplab/link"
)

// Case is one workload over one transport on one link with one seed.
type Case struct {
	Workload  Workload
	Transport Transport
	Path      Path
	Link      string // the link's SPEC (package link)
	Seed      uint64
}

// Key names the case without its seed: the cases of one key are the seeds of one figure.
func (c Case) Key() string {
	return fmt.Sprintf("%s | %s | %s | %s", c.Workload.Name(), c.Transport, c.Path, c.Link)
}

// Result is what one case measured, and what its link did.
type Result struct {
	Case     Case
	Measured Measured
	// WireBytes counts the IP bytes both senders put on the link (what it delivered and what it
	// dropped), headers included; Packets counts those packets.
	WireBytes int64
	Packets   int64
	Other     int64     // packets of another protocol on the hosts path, not counted above
	Drops     [2]uint64 // dropped by the link's impairments, by direction: [c2s, s2c]
	// KCPSent is what each KCP side wrote to its socket ([client, server]), for the check that the
	// link saw the same datagrams.
	KCPSent [2]sent
	// Retrans is the transport's retransmissions on the link.
	Retrans Retrans
	TCP     *TCPInfo
	// MinRTOApplied is false when the mode asks for a minimum RTO that the implementation cannot set.
	MinRTOApplied bool
	Attempts      int
	Took          time.Duration
	// Records are the link's packets with their payloads (for the pcapng), when Run was asked to keep
	// them.
	Records []link.Record
	Err     error
}

// udpIPHeader is the IPv4 and UDP headers' bytes in front of every KCP datagram.
const udpIPHeader = 28

// settleLimit bounds the wait after a case for the link to hold nothing: longer than any link's delay.
const settleLimit = 2 * time.Second

// maxAttempts bounds the runs of a case whose KCP socket sent another session's datagram.
const maxAttempts = 3

// Run runs the case (again, up to maxAttempts, if kcp-go sent a datagram of another session through
// it) and checks what it can on every run: every message echoed, the link's packets and KCP's writes
// the same. keep keeps the link's records in the result.
func Run(ctx context.Context, c Case, keep bool) Result {
	var r Result
	for r.Attempts = 1; ; r.Attempts++ {
		r = runOnce(ctx, c, keep, r.Attempts)
		if r.Err == nil && (r.KCPSent[0].Foreign > 0 || r.KCPSent[1].Foreign > 0) && r.Attempts < maxAttempts {
			continue
		}
		break
	}
	if r.Err == nil {
		r.Err = check(r)
	}
	return r
}

func runOnce(ctx context.Context, c Case, keep bool, attempt int) (r Result) {
	r = Result{Case: c, Attempts: attempt, MinRTOApplied: c.Transport.TCP || c.Transport.Mode.MinRTO == 0}
	start := time.Now()
	defer func() { r.Took = time.Since(start) }()
	cfg, err := link.Parse(c.Link)
	if err != nil {
		r.Err = err
		return r
	}
	var l *link.Link
	var ep endpoints
	switch c.Path {
	case Hosts:
		p, err := hosts.NewPair(cfg, c.Seed)
		if err != nil {
			r.Err = err
			return r
		}
		defer func() {
			if err := p.Close(); err != nil && r.Err == nil {
				r.Err = err
			}
		}()
		l, ep = p.Link, hostEnds{p}
	default:
		if l, err = link.New(cfg, c.Seed, time.Now(), link.WithPayloads()); err != nil {
			r.Err = err
			return r
		}
		defer l.Close()
		ep = loopbackEnds{l}
	}
	switch {
	case c.Transport.Start != nil:
		if c.Path != Loopback {
			r.Err = fmt.Errorf("claims: a peer process runs on the loopback path only")
			return r
		}
		r.Measured, r.KCPSent, r.Err = runPeer(ctx, c.Workload, c.Transport.Mode, c.Transport.Start, l)
	case c.Transport.TCP:
		var info TCPInfo
		r.Measured, info, r.Err = runTCP(ctx, c.Workload, ep)
		r.TCP = &info
	default:
		r.Measured, r.KCPSent, r.Err = runKCP(ctx, c.Workload, c.Transport.Mode, ep)
	}
	// Wait (boundedly) until every record's fate is final: the link has seen every datagram KCP
	// wrote (one written just before its close may still wait in the TUN device's queue for the
	// forwarder), and holds no copy (the peer may already have read one whose delivery the link has
	// yet to record).
	var want uint64
	if c.Path == Hosts && !c.Transport.TCP {
		want = uint64(r.KCPSent[0].Datagrams + r.KCPSent[1].Datagrams)
	}
	for end := time.Now().Add(settleLimit); (l.Stats(dir.C2S).Sent+l.Stats(dir.S2C).Sent < want || l.Pending() > 0) && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
	recs := l.Records()
	proto := byte(17) // UDP
	if c.Transport.TCP {
		proto = 6
	}
	for _, rec := range recs {
		if c.Path == Hosts && (len(rec.Payload) < 20 || rec.Payload[9] != proto) {
			// Not the workload's (an ICMP port unreachable for a datagram that came after a close).
			r.Other++
			continue
		}
		r.Packets++
		r.WireBytes += int64(rec.Size)
		if c.Path == Loopback {
			r.WireBytes += udpIPHeader
		}
		if rec.Fate.Dropped() {
			r.Drops[rec.Dir.Index()]++
		}
	}
	if c.Transport.TCP {
		r.Retrans = tcpRetransOf(recs)
	} else {
		r.Retrans = retransOf(recs, c.Path)
	}
	if keep {
		r.Records = recs
	}
	return r
}

// check states the invariants every case must keep.
func check(r Result) error {
	var errs []error
	if n := r.Measured.Missing; n > 0 {
		errs = append(errs, fmt.Errorf("%d message(s) never echoed", n))
	}
	if e, ok := r.Case.Workload.(Echo); ok && len(r.Measured.RTTs)+r.Measured.Missing != e.Count {
		errs = append(errs, fmt.Errorf("%d RTTs and %d missing for %d messages", len(r.Measured.RTTs), r.Measured.Missing, e.Count))
	}
	if !r.Case.Transport.TCP {
		k := r.KCPSent
		if k[0].Foreign+k[1].Foreign > 0 {
			errs = append(errs, fmt.Errorf("kcp-go sent %d datagram(s) of another session through this case's sockets in each of %d attempts",
				k[0].Foreign+k[1].Foreign, r.Attempts))
		}
		// Every datagram KCP wrote went through the link: the same count, the same bytes.
		if d := k[0].Datagrams + k[1].Datagrams; d != r.Packets {
			errs = append(errs, fmt.Errorf("KCP wrote %d datagrams, the link saw %d", d, r.Packets))
		}
		if b := k[0].Bytes + k[1].Bytes + udpIPHeader*(k[0].Datagrams+k[1].Datagrams); b != r.WireBytes {
			errs = append(errs, fmt.Errorf("KCP wrote %d bytes with IP and UDP headers, the link saw %d", b, r.WireBytes))
		}
		// Every message arrived, so the link delivered a copy of every sn: an sn sent n times had at
		// most n-1 copies dropped.
		if rt := r.Retrans; r.Measured.Missing == 0 && rt.Again < rt.Dropped {
			errs = append(errs, fmt.Errorf("the link dropped %d PUSH segments, KCP sent only %d again", rt.Dropped, rt.Again))
		}
		if d := k[0].Datagrams + k[1].Datagrams; int64(r.Retrans.Datagrams) != d {
			errs = append(errs, fmt.Errorf("KCP wrote %d datagrams, %d of them decoded as KCP", d, r.Retrans.Datagrams))
		}
		// An ACK that echoes an earlier copy's ts proves that copy arrived, so the link delivered it:
		// spurious ≤ sent after delivery ≤ sent again.
		if rt := r.Retrans; rt.Spurious > rt.AfterDelivered || rt.AfterDelivered > rt.Again {
			errs = append(errs, fmt.Errorf("PUSH segments: %d sent again, %d of them after a copy the link delivered, %d shown spurious by an ACK; want spurious ≤ after a delivered copy ≤ sent again",
				rt.Again, rt.AfterDelivered, rt.Spurious))
		}
	} else if rt := r.Retrans; r.Measured.Missing == 0 && rt.AgainBytes < rt.DroppedBytes {
		// Every byte arrived, so the link delivered a copy of each: a byte sent n times had at most
		// n-1 copies dropped.
		errs = append(errs, fmt.Errorf("the link dropped %d bytes of TCP data, TCP sent only %d again", rt.DroppedBytes, rt.AgainBytes))
	}
	return errors.Join(errs...)
}
