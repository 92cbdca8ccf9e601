package pcapfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"kcplab/capture"
)

// Annotations are the comments written into a pcapng file.
type Annotations struct {
	Section string           // pcapng section comment (SHB opt_comment)
	Packets map[int][]string // per-datagram comments, key = index into the datagrams slice
}

// WritePcapng writes dgs to w as pcapng: one Ethernet interface with
// nanosecond timestamps, each datagram as Ethernet (zero MACs, like Linux lo) /
// IPv4 or IPv6 / UDP with its real addresses and ports and valid checksums.
// Datagrams are written in slice order. It fails, naming the datagram, on
// invalid or mixed-family addresses, oversized payloads, times outside 1970..2261,
// and comment keys that are not indexes of dgs.
func WritePcapng(w io.Writer, dgs []capture.Datagram, ann Annotations) error {
	for k := range ann.Packets {
		if k < 0 || k >= len(dgs) {
			return fmt.Errorf("pcapfile: write pcapng: comment for datagram %d, but there are %d datagrams", k, len(dgs))
		}
	}
	intf := pcapgo.NgInterface{
		Name:                "kcplab",
		Description:         "datagrams recorded by kcplab, framed as on Linux lo",
		OS:                  runtime.GOOS,
		LinkType:            layers.LinkTypeEthernet,
		TimestampResolution: 9,
		SnapLength:          0,
	}
	opts := pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{
		Hardware:    runtime.GOARCH,
		OS:          runtime.GOOS,
		Application: "kcplab",
		Comment:     ann.Section,
	}}
	nw, err := pcapgo.NewNgWriterInterface(w, intf, opts)
	if err != nil {
		return fmt.Errorf("pcapfile: write pcapng header: %w", err)
	}
	fb := newFrameBuilder()
	for i, d := range dgs {
		if y := d.Time.Year(); y < 1970 || y > 2261 {
			return fmt.Errorf("pcapfile: write pcapng: datagram %d: time %v is outside 1970..2261", i, d.Time)
		}
		frame, err := fb.frame(d)
		if err != nil {
			return fmt.Errorf("pcapfile: write pcapng: datagram %d (%v -> %v): %w", i, d.Src, d.Dst, err)
		}
		ci := gopacket.CaptureInfo{Timestamp: d.Time, CaptureLength: len(frame), Length: len(frame)}
		if err := nw.WritePacketWithOptions(ci, frame, pcapgo.NgPacketOptions{Comments: ann.Packets[i]}); err != nil {
			return fmt.Errorf("pcapfile: write pcapng: datagram %d: %w", i, err)
		}
	}
	if err := nw.Flush(); err != nil {
		return fmt.Errorf("pcapfile: write pcapng: flush: %w", err)
	}
	return nil
}

// WritePcapngFile writes dgs as pcapng to the file at path (created or
// truncated), see WritePcapng.
func WritePcapngFile(path string, dgs []capture.Datagram, ann Annotations) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("pcapfile: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("pcapfile: close %s: %w", path, cerr))
		}
	}()
	if err := WritePcapng(f, dgs, ann); err != nil {
		return fmt.Errorf("%w (file %s)", err, path)
	}
	return nil
}

// IPPacket is an IP packet (from its IP header on) recorded at Time, with comments.
type IPPacket struct {
	Time     time.Time
	Data     []byte
	Comments []string
}

// IPInterface is one interface of a raw-IP pcapng: its name, description and packets (in time order).
type IPInterface struct {
	Name, Description string
	Packets           []IPPacket
}

// WriteIPPcapng writes interfaces of raw IP packets (link type RAW: no link-layer header, as a TUN
// device gives them) to w as one pcapng section, their packets merged in time order. snap > 0 keeps
// only the first snap bytes of each packet (the original length is kept in the file).
func WriteIPPcapng(w io.Writer, section string, intfs []IPInterface, snap int) error {
	if len(intfs) == 0 {
		return errors.New("pcapfile: write pcapng: no interface")
	}
	ng := func(in IPInterface) pcapgo.NgInterface {
		return pcapgo.NgInterface{Name: in.Name, Description: in.Description, OS: runtime.GOOS,
			LinkType: layers.LinkTypeRaw, TimestampResolution: 9, SnapLength: uint32(max(snap, 0))}
	}
	nw, err := pcapgo.NewNgWriterInterface(w, ng(intfs[0]), pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{
		Hardware: runtime.GOARCH, OS: runtime.GOOS, Application: "kcplab", Comment: section}})
	if err != nil {
		return fmt.Errorf("pcapfile: write pcapng header: %w", err)
	}
	type ref struct{ intf, pkt int }
	var all []ref
	for i, in := range intfs {
		if i > 0 {
			if _, err := nw.AddInterface(ng(in)); err != nil {
				return fmt.Errorf("pcapfile: write pcapng: interface %s: %w", in.Name, err)
			}
		}
		for k := range in.Packets {
			all = append(all, ref{i, k})
		}
	}
	slices.SortStableFunc(all, func(a, b ref) int {
		return intfs[a.intf].Packets[a.pkt].Time.Compare(intfs[b.intf].Packets[b.pkt].Time)
	})
	for _, r := range all {
		p := intfs[r.intf].Packets[r.pkt]
		if y := p.Time.Year(); y < 1970 || y > 2261 {
			return fmt.Errorf("pcapfile: write pcapng: %s packet %d: time %v is outside 1970..2261", intfs[r.intf].Name, r.pkt, p.Time)
		}
		data := p.Data
		if snap > 0 && len(data) > snap {
			data = data[:snap]
		}
		ci := gopacket.CaptureInfo{Timestamp: p.Time, CaptureLength: len(data), Length: len(p.Data), InterfaceIndex: r.intf}
		if err := nw.WritePacketWithOptions(ci, data, pcapgo.NgPacketOptions{Comments: p.Comments}); err != nil {
			return fmt.Errorf("pcapfile: write pcapng: %s packet %d: %w", intfs[r.intf].Name, r.pkt, err)
		}
	}
	if err := nw.Flush(); err != nil {
		return fmt.Errorf("pcapfile: write pcapng: flush: %w", err)
	}
	return nil
}
