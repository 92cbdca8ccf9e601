package claims

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
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

// pcapConditions are the workloads whose first seed a run keeps as a pcapng, by workload name and
// condition: one interactive capture per kind of link, and one bulk transfer under loss.
var pcapConditions = map[string][]string{
	InteractiveEcho.Name():      {"loss 10%", "50ms+5%", "200ms+5%"},
	Bulk{Bytes: 1 << 20}.Name(): {"loss 5%"},
}

// KeepPcap says whether a run keeps c's packets for a pcapng (RunPlan's keep).
func KeepPcap(c Case) bool {
	cond, ok := ConditionOf(c)
	return ok && c.Path == Hosts && c.Seed == 1 && slices.Contains(pcapConditions[c.Workload.Name()], cond.Name)
}

// Pcap is a pcapng a claims run wrote, and the results in it.
type Pcap struct {
	Path, Title string
	Results     []Result
}

// WritePcaps writes one pcapng in dir per workload and condition among results that kept their
// packets, its transports side by side, named by slug(workload and condition).
func WritePcaps(dir string, results []Result, slug func(string) string) ([]Pcap, error) {
	var pcaps []Pcap
	at := map[string]int{}
	for _, r := range results {
		if r.Records == nil {
			continue
		}
		cond, _ := ConditionOf(r.Case)
		name := slug(r.Case.Workload.Name() + " " + cond.Name)
		if i, ok := at[name]; ok {
			pcaps[i].Results = append(pcaps[i].Results, r)
			continue
		}
		at[name] = len(pcaps)
		pcaps = append(pcaps, Pcap{filepath.Join(dir, name+".pcapng"), r.Case.Workload.Name() + ", " + cond.Name, []Result{r}})
	}
	for _, p := range pcaps {
		f, err := os.Create(p.Path)
		if err != nil {
			return nil, err
		}
		err = WritePcapng(f, p.Title, p.Results)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
	}
	return pcaps, nil
}
