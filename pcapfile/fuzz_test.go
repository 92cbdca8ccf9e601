package pcapfile

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// fragmentRecords are the IPv4 and IPv6 fragments of two datagrams, a seed for the reassembly.
func fragmentRecords(tb testing.TB) []pcapRecord {
	v4, v6 := sampleDatagrams()[0], sampleDatagrams()[4]
	var out []pcapRecord
	for _, ip := range append(fragments(ipUDP(tb, v4), 16), fragments6(ipUDP(tb, v6), 512, 9)...) {
		out = append(out, pcapRecord{v4.Time.Add(time.Duration(len(out)) * time.Millisecond), ip})
	}
	return out
}

// FuzzRead feeds arbitrary bytes to Read: it must return a File or a
// *ReadError naming the input, and never panic (Read turns a panic in a
// decoder into an "internal error", which this fuzz test also reports);
// Open, which maps pcap files, must read what the stream reader reads.
func FuzzRead(f *testing.F) {
	recs, _ := records(f, frameEthernet)
	pcap := pcapgoBytes(f, true, layers.LinkTypeEthernet, recs)
	ng, _ := pcapngBytes(f, layers.LinkTypeLinuxSLL2, func() []pcapRecord { r, _ := records(f, frameSLL2); return r }())
	var written bytes.Buffer
	if err := WritePcapng(&written, sampleDatagrams(), sampleAnnotations()); err != nil {
		f.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(pcap)
	_ = zw.Close()
	for _, seed := range [][]byte{
		nil, []byte("not a capture"), pcap, pcap[:40], ng, ng[:len(ng)-7], written.Bytes(), gz.Bytes(),
		pcapgoBytes(f, false, layers.LinkTypeNull, func() []pcapRecord { r, _ := records(f, frameNull(30)); return r }()),
		pcapBytes(binary.BigEndian, false, layers.LinkTypeRaw, func() []pcapRecord { r, _ := records(f, frameRaw); return r }()),
		pcapBytes(binary.LittleEndian, true, layers.LinkTypeRaw, fragmentRecords(f)),
	} {
		f.Add(seed)
	}
	fixtures, _ := filepath.Glob(filepath.Join("testdata", "*.pcap*"))
	for _, path := range fixtures {
		if data, err := os.ReadFile(path); err == nil {
			f.Add(data)
		}
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		// Open (a mapped pcap file) must return what the stream reader returns
		path := filepath.Join(dir, "fuzz.cap")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if srd, err := NewReader(bytes.NewReader(data), path); err == nil {
			want, wantErr := collect(srd)
			ord, closer, err := Open(path)
			if err != nil {
				t.Fatalf("stream reader opened it, Open: %v", err)
			}
			got, gotErr := collect(ord)
			closer.Close()
			if fmt.Sprint(want) != fmt.Sprint(got) || wantErr != gotErr {
				t.Fatalf("Open read %d records (%s), the stream %d (%s)", len(got), gotErr, len(want), wantErr)
			}
		}
		file, err := Read(bytes.NewReader(data), "fuzz.cap")
		if err == nil {
			if file == nil {
				t.Fatal("nil File without error")
			}
			return
		}
		var re *ReadError
		if !errors.As(err, &re) || re.Name != "fuzz.cap" {
			t.Fatalf("error %T %q is not a *ReadError naming the input", err, err)
		}
		if re.Offset < 0 || re.Offset > int64(len(data)) && !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			t.Fatalf("offset %d outside the %d-byte input: %v", re.Offset, len(data), err)
		}
		if bytes.Contains([]byte(re.Msg), []byte("internal error")) {
			t.Fatalf("decoder panicked: %v", err)
		}
	})
}
