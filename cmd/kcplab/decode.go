package main

import (
	"encoding/json"
	"fmt"
	"io"

	"kcplab/kcpwire"
	"kcplab/pcapfile"
)

// segmentJSON is one line of `kcplab decode -json`.
type segmentJSON struct {
	T        float64 `json:"t"`
	Src      string  `json:"src"`
	Dst      string  `json:"dst"`
	Datagram int     `json:"datagram"`
	Framing  string  `json:"framing"`
	Conv     *uint32 `json:"conv,omitempty"`
	Cmd      *uint8  `json:"cmd,omitempty"`
	Frg      *uint8  `json:"frg,omitempty"`
	Wnd      *uint16 `json:"wnd,omitempty"`
	Ts       *uint32 `json:"ts,omitempty"`
	Sn       *uint32 `json:"sn,omitempty"`
	Una      *uint32 `json:"una,omitempty"`
	Len      *uint32 `json:"len,omitempty"`
	Error    string  `json:"error,omitempty"`
}

func runDecode(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("decode", stderr)
	framingName := fs.String("framing", "auto", "framing of the UDP payload: auto, plain, fec or encrypted")
	asJSON := fs.Bool("json", false, "print one JSON object per segment")
	port := fs.Int("port", 0, "decode only datagrams to or from this UDP port (0: all)")
	if err := parse(fs, args); err != nil {
		return err
	}
	framing, err := kcpwire.ParseFraming(*framingName)
	if err != nil {
		return usageErr("-framing: %v", err)
	}
	if *port < 0 || *port > 65535 {
		return usageErr("-port %d: not a UDP port", *port)
	}
	if fs.NArg() == 0 {
		return usageErr("no capture file given")
	}
	for _, path := range fs.Args() {
		f, err := pcapfile.ReadFile(path)
		if err != nil {
			return usageErr("%v", err)
		}
		if fs.NArg() > 1 && !*asJSON {
			fmt.Fprintf(stdout, "# %s (%s, %d UDP datagrams, %d other packets)\n", path, f.LinkType, len(f.Datagrams), f.Skipped)
		}
		if err := decodeFile(stdout, f, framing, uint16(*port), *asJSON); err != nil {
			return err
		}
	}
	return nil
}

func decodeFile(w io.Writer, f *pcapfile.File, framing kcpwire.Framing, port uint16, asJSON bool) error {
	enc := json.NewEncoder(w)
	var d kcpwire.Datagram
	for i, dg := range f.Datagrams {
		if port != 0 && dg.Src.Port() != port && dg.Dst.Port() != port {
			continue
		}
		t := dg.Time.Sub(f.Datagrams[0].Time).Seconds()
		src, dst := dg.Src.String(), dg.Dst.String()
		err := d.Decode(dg.Payload, framing)
		if asJSON {
			base := segmentJSON{T: t, Src: src, Dst: dst, Datagram: i + 1, Framing: d.Framing.String()}
			if err != nil {
				base.Framing, base.Error = "none", err.Error()
				if e := enc.Encode(base); e != nil {
					return e
				}
				continue
			}
			if len(d.Segments) == 0 {
				if e := enc.Encode(base); e != nil {
					return e
				}
			}
			for _, s := range d.Segments {
				j := base
				cmd := uint8(s.Cmd)
				j.Conv, j.Cmd, j.Frg, j.Wnd, j.Ts, j.Sn, j.Una, j.Len = &s.Conv, &cmd, &s.Frg, &s.Wnd, &s.Ts, &s.Sn, &s.Una, &s.Len
				if e := enc.Encode(j); e != nil {
					return e
				}
			}
			continue
		}
		prefix := fmt.Sprintf("%10.6f %21s → %-21s", t, src, dst)
		switch {
		case err != nil:
			fmt.Fprintf(w, "%s not KCP (%d bytes): %v\n", prefix, len(dg.Payload), err)
		case d.Framing == kcpwire.FramingEncrypted:
			fmt.Fprintf(w, "%s encrypted (%d bytes)\n", prefix, len(dg.Payload))
		case d.Framing == kcpwire.FramingFEC && len(d.Segments) == 0:
			fmt.Fprintf(w, "%s FEC %s seq=%d (%d bytes)\n", prefix, d.FEC.Type, d.FEC.SeqID, len(dg.Payload))
		default:
			for _, s := range d.Segments {
				fmt.Fprintf(w, "%s %-4s conv=%d sn=%d una=%d frg=%d wnd=%d ts=%d len=%d\n",
					prefix, s.Cmd, s.Conv, s.Sn, s.Una, s.Frg, s.Wnd, s.Ts, s.Len)
			}
		}
	}
	return nil
}
