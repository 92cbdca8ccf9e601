// Package link is a seeded user-space network link between a client and a server on the real
// loopback sockets kcp-go uses: no root, no netem. A Link wraps each side's net.PacketConn
// (Wrap); what a side writes is that direction's egress and goes through the direction's
// impairments before it reaches the real socket. Reads pass through unchanged.
//
// Each direction (dir.C2S: what the client sends, dir.S2C: what the server sends; kcplab/internal/dir) has its own
// impairments, one file each: loss (independent, or in bursts with a Gilbert model), a drop
// list of datagram indexes, delay, jitter (order kept unless reordering is allowed),
// duplication, a rate limit with a tail-drop queue, and blackhole windows. Every random
// decision comes from a PCG stream seeded by the link's seed, the direction and the impairment,
// so the same seed and the same sends give the same fates, and one direction's traffic never
// changes the other's. Fates that depend on time (blackhole windows, a full rate queue) also
// depend on when the datagrams are sent.
//
// The link records the fate of every datagram (Records) and counts them per direction (Stats).
// A record's Index is the n-th WriteTo of its direction (0-based); each copy the link put on the
// socket has a Wire index, the n-th datagram the link wrote in that direction, which is the n-th
// datagram a capture below the link (the tap wrapping the socket, or libpcap) sees from that side.
//
// Wrap the link around the capture's wrapper (link over tap over socket): the capture then records
// what crossed the wire, at the time it did, with either capture kind, and the records add what each
// side sent and what the link did with it (WithPayloads keeps the bytes of the datagrams it dropped).
//
// The link sends a delayed datagram through its sender's socket, so a datagram still in the link
// when that socket closes is lost (FateClosed), where a real network would still deliver it; Close
// the link after the sockets, and wait for Pending to reach zero before deciding the wire is quiet.
//
// # SPEC grammar
//
// Parse reads a SPEC: comma-separated key=value pairs. A key applies to both directions, or to
// one when prefixed with "c2s." or "s2c." (a prefixed key overrides the unprefixed one for its
// direction, in any order; a key given twice for the same direction is an error).
//
//	loss=10%  loss=0.1     probability that a datagram is lost, in [0, 1]
//	burst=4                mean length of a loss burst in datagrams (>= 1): losses follow a
//	                       Gilbert model (good state: no loss, bad state: all lost) whose mean
//	                       loss is the loss key's, which is required; loss <= burst/(burst+1)
//	drop=0+3+7  drop=2-5   0-based indexes of the datagrams to drop, in this direction's order
//	                       of WriteTo calls; '+' separates items, a-b is an inclusive range
//	delay=30ms             added one-way latency (Go duration)
//	jitter=10ms            uniform in [-jitter, +jitter] added to each datagram's delay, the
//	                       total clamped at zero; without reorder a datagram never leaves before
//	                       the one sent before it (its due time is raised to its predecessor's)
//	reorder=true|false     allow jitter to reorder datagrams (needs jitter)
//	dup=1%                 probability that a datagram is sent twice (the copy has its own jitter)
//	rate=1mbit             bottleneck rate: bit, kbit, mbit, gbit (per second, powers of 1000),
//	rate=100kB/s           or B/s, kB/s, MB/s, GB/s
//	queue=64kB             bottleneck queue (tail drop): B, kB, MB, or pkt for datagrams
//	queue=100pkt           (needs rate; default 1000pkt); it holds every datagram not yet
//	                       fully sent at the rate, including the one being sent
//	blackhole=2s..         the path is dead for datagrams sent from 2 s after the link's start on;
//	blackhole=1s..3s       or sent in [1 s, 3 s); '+' separates several windows
//
// Example: "loss=10%,delay=30ms,jitter=10ms,s2c.blackhole=2s..". Config.String renders the
// canonical SPEC, which Parse reads back to the same Config.
//
// # Order of the impairments
//
// For each datagram written in a direction, in this order: the drop list, the blackhole windows,
// loss (or burst loss), then duplication; each copy then enters the rate limiter's queue (tail
// drop when full), leaves it at the configured rate, and is delayed by delay plus jitter. A
// datagram the link drops or delays still makes WriteTo return len(p), nil, as a real network
// would. Delayed copies are sent by one scheduler goroutine per direction, through the socket of
// the side that wrote them, at their due time.
package link
