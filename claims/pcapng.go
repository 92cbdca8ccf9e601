package claims

import (
	"fmt"
	"io"
	"strings"

	"kcplab/pcapfile"
)

// Snap is how much of each packet a claims pcapng keeps: the IP, TCP or UDP and KCP headers and the
// start of the data, enough for Wireshark's TCP analysis and KCP dissector, at a fraction of a bulk
// transfer's size.
const Snap = 128

// WritePcapng writes the hosts-path results (one interface each, named by transport) as one raw-IP
// pcapng: every packet as its sender put it on the link, with the link's fate as a comment on those
// it did not deliver.
func WritePcapng(w io.Writer, title string, results []Result) error {
	var intfs []pcapfile.IPInterface
	var sec strings.Builder
	fmt.Fprintf(&sec, "kcplab claims: %s\n", title)
	for _, r := range results {
		if r.Case.Path != Hosts {
			return fmt.Errorf("claims: pcapng: %s: only the hosts path records IP packets", r.Case.Key())
		}
		in := pcapfile.IPInterface{Name: r.Case.Transport.String(),
			Description: fmt.Sprintf("%s over %s, link %q seed %d", r.Case.Workload.Name(), r.Case.Transport, r.Case.Link, r.Case.Seed)}
		fmt.Fprintf(&sec, "interface %d: %s; c2s dropped %d, s2c dropped %d\n", len(intfs), in.Description, r.Drops[0], r.Drops[1])
		for _, rec := range r.Records {
			p := pcapfile.IPPacket{Time: rec.Sent, Data: rec.Payload}
			if rec.DeliveredCopies() == 0 {
				p.Comments = []string{fmt.Sprintf("kcplab link %s: not delivered (%s)", rec.Dir.Key(), rec.Fate)}
			} else if rec.Copied == 2 {
				p.Comments = []string{"kcplab link: duplicated"}
			}
			in.Packets = append(in.Packets, p)
		}
		intfs = append(intfs, in)
	}
	return pcapfile.WriteIPPcapng(w, sec.String(), intfs, Snap)
}
