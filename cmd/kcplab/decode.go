package main

import (
	"context"
	"fmt"
	"strings"

	"kcplab/decode"
	"kcplab/internal/cli"
	"kcplab/kcpwire"
)

func runDecode(ctx context.Context, c *cli.Call) error {
	framingName := c.Flags.String("framing", "auto", "framing of the UDP payload: auto (plain or FEC, on evidence), plain, fec or encrypted")
	asJSON := c.Flags.Bool("json", false, "print one JSON object per segment (per datagram when it has none)")
	port := cli.Int(c.Flags, "port", 0, 0, 65535, "decode only datagrams to or from this UDP port (0: all)")
	summary := c.Flags.Bool("summary", false, "print one block per KCP conversation instead of the segments: what each direction sent, "+
		"PUSH segments sent again, and the sn the other side never acknowledged in the capture")
	analyze := c.Flags.Bool("analyze", true, "mark each segment as Wireshark's sequence analysis does: a PUSH sent again names the frame "+
		"that first sent its sn, an ACK the frame of the PUSH it acknowledges (by the ts it echoes), the time since, and the "+
		"retransmissions it shows spurious (sent again although that PUSH had arrived)")
	var encPorts decode.Ports
	c.Flags.Var(&encPorts, "encrypted-port", "UDP ports (comma-separated, repeatable) that carry KCP in any framing: "+
		"with -framing auto, a datagram to or from one is plain or FEC when it decodes as such, else encrypted")
	files, err := c.Parse()
	if err != nil {
		return err
	}
	framing, err := kcpwire.ParseFraming(*framingName)
	switch {
	case err != nil:
		return cli.Usage("-framing: %v", err)
	case len(files) == 0:
		return cli.Usage("no capture file given")
	}
	dc := decode.New(c.Stdout, decode.Options{Framing: framing, JSON: *asJSON, Port: uint16(*port), EncryptedPorts: &encPorts, Named: len(files) > 1,
		Summary: *summary, Analyze: *analyze})
	var failed []string
	for _, path := range files {
		rerr := dc.File(path)
		if werr := dc.Flush(); werr != nil {
			return fmt.Errorf("writing the output: %w", werr)
		}
		if rerr != nil {
			fmt.Fprintf(c.Stderr, "kcplab decode: %v\n", rerr)
			failed = append(failed, path)
			continue
		}
		switch n := dc.Counts(); {
		case n.Packets == 0:
			fmt.Fprintf(c.Stderr, "kcplab decode: %s: the capture holds no packets\n", path)
		case n.Datagrams == 0:
			fmt.Fprintf(c.Stderr, "kcplab decode: %s: no UDP datagram in its %d packets (link type %s)\n", path, n.Packets, n.LinkType)
		case n.Shown == 0:
			fmt.Fprintf(c.Stderr, "kcplab decode: %s: none of its %d UDP datagrams is to or from port %d\n", path, n.Datagrams, *port)
		}
	}
	if len(failed) > 0 {
		return cli.Usage("%d of %d captures could not be read to the end (%s); the complete packets before each fault were printed",
			len(failed), len(files), strings.Join(failed, ", "))
	}
	return nil
}
