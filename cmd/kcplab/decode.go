package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"kcplab/decode"
	"kcplab/kcpwire"
)

func runDecode(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	framingName := fs.String("framing", "auto", "framing of the UDP payload: auto (plain or FEC, on evidence), plain, fec or encrypted")
	asJSON := fs.Bool("json", false, "print one JSON object per segment (per datagram when it has none)")
	port := fs.Int("port", 0, "decode only datagrams to or from this UDP port (0: all)")
	var encPorts decode.Ports
	fs.Var(&encPorts, "encrypted-port", "UDP ports (comma-separated, repeatable) that carry KCP in any framing: "+
		"with -framing auto, a datagram to or from one is plain or FEC when it decodes as such, else encrypted")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	framing, err := kcpwire.ParseFraming(*framingName)
	if err != nil {
		return usageErr("-framing: %v", err)
	}
	if *port < 0 || *port > 65535 {
		return usageErr("-port %d: not a UDP port", *port)
	}
	if len(files) == 0 {
		return usageErr("no capture file given")
	}
	dc := decode.New(stdout, decode.Options{Framing: framing, JSON: *asJSON, Port: uint16(*port), EncryptedPorts: &encPorts, Named: len(files) > 1})
	var failed []string
	for _, path := range files {
		rerr := dc.File(path)
		if werr := dc.Flush(); werr != nil {
			return fmt.Errorf("writing the output: %w", werr)
		}
		if rerr != nil {
			fmt.Fprintf(stderr, "kcplab decode: %v\n", rerr)
			failed = append(failed, path)
		}
	}
	if len(failed) > 0 {
		return usageErr("%d of %d captures could not be read to the end (%s); the complete packets before each fault were printed",
			len(failed), len(files), strings.Join(failed, ", "))
	}
	return nil
}
