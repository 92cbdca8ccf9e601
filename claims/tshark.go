package claims

import (
	"context"
	"encoding/binary"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// retransmissionFilter is what tshark marks as a segment sent again. The capture is the senders'
// (before the link), where a segment below the highest sequence number sent is a retransmission;
// tshark calls it out-of-order when it comes sooner after the original than its RTT estimate.
const retransmissionFilter = "tcp.analysis.retransmission || tcp.analysis.fast_retransmission || " +
	"tcp.analysis.spurious_retransmission || tcp.analysis.out_of_order"

// DroppedDataSegments counts the TCP segments with data that the link's impairments dropped in r.
func DroppedDataSegments(r Result) int {
	n := 0
	for _, rec := range r.Records {
		p := rec.Payload
		if !rec.Fate.Dropped() || len(p) < 40 || p[9] != 6 {
			continue
		}
		ihl := int(p[0]&0x0f) * 4
		if len(p) < ihl+20 {
			continue
		}
		doff := int(p[ihl+12]>>4) * 4
		if int(binary.BigEndian.Uint16(p[2:4]))-ihl-doff > 0 {
			n++
		}
	}
	return n
}

// TsharkRetransmissions counts, with tshark, the TCP segments sent again on interface intf of the
// pcapng at path (its name, as WritePcapng names it: "tcp").
func TsharkRetransmissions(ctx context.Context, tshark, path, intf string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	filter := fmt.Sprintf("frame.interface_name == %q && (%s)", intf, retransmissionFilter)
	out, err := exec.CommandContext(ctx, tshark, "-n", "-r", path, "-Y", filter, "-T", "fields", "-e", "frame.number").Output()
	if err != nil {
		return 0, fmt.Errorf("tshark on %s: %w", path, err)
	}
	return len(strings.Fields(string(out))), nil
}

// RetransmissionChecks compares, in each pcapng, the TCP data segments the link dropped with the
// segments tshark marks as sent again: one line a TCP result, or one line saying tshark is missing.
func RetransmissionChecks(ctx context.Context, pcaps []Pcap) []string {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		return []string{"tshark is not installed: the TCP captures were not checked against it"}
	}
	var out []string
	for _, p := range pcaps {
		for _, r := range p.Results {
			if !r.Case.Transport.TCP {
				continue
			}
			n, err := TsharkRetransmissions(ctx, tshark, p.Path, r.Case.Transport.String())
			if err != nil {
				out = append(out, fmt.Sprintf("%s: %v", p.Title, err))
				continue
			}
			out = append(out, fmt.Sprintf("%s: the link dropped %d TCP data segment(s); tshark marks %d segment(s) sent again in %s",
				p.Title, DroppedDataSegments(r), n, filepath.Base(p.Path)))
		}
	}
	return out
}
