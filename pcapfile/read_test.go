package pcapfile

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"kcplab/internal/dir"
)

// records frames every sample datagram with frameFn and adds one TCP packet
// (to be skipped) in the middle.
func records(tb testing.TB, frameFn func([]byte) []byte) ([]pcapRecord, []Datagram) {
	tb.Helper()
	dgs := sampleDatagrams()
	var recs []pcapRecord
	for i, d := range dgs {
		if i == 2 {
			recs = append(recs, pcapRecord{d.Time.Add(-time.Microsecond), frameFn(ipTCP(tb))})
		}
		recs = append(recs, pcapRecord{d.Time, frameFn(ipUDP(tb, d))})
	}
	return recs, dgs
}

// assertDatagrams compares read datagrams with the originals at resolution res.
func assertDatagrams(t *testing.T, want []Datagram, got []Datagram, res time.Duration) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		assert.Equal(t, want[i].Src, got[i].Src, "datagram %d src", i)
		assert.Equal(t, want[i].Dst, got[i].Dst, "datagram %d dst", i)
		assert.Equal(t, want[i].Payload, got[i].Payload, "datagram %d payload", i)
		assert.WithinDuration(t, want[i].Time, got[i].Time, res-1, "datagram %d time", i)
		assert.False(t, got[i].Time.After(want[i].Time), "datagram %d time is truncated, not rounded up", i)
		assert.Equal(t, dir.Unknown, got[i].Side)
	}
}

func TestReadLinkTypesAndFormats(t *testing.T) {
	t.Parallel()
	links := []struct {
		name    string
		lt      layers.LinkType
		frameFn func([]byte) []byte
	}{
		{"Ethernet", layers.LinkTypeEthernet, frameEthernet},
		{"Null", layers.LinkTypeNull, frameNull(24)},
		{"Null", layers.LinkTypeNull, frameNull(28)},
		{"Null", layers.LinkTypeNull, frameNull(30)},
		{"Loop", layers.LinkTypeLoop, frameLoop},
		{"Linux SLL", layers.LinkTypeLinuxSLL, frameSLL},
		{"Linux SLL2", layers.LinkTypeLinuxSLL2, frameSLL2},
		{"Raw", layers.LinkTypeRaw, frameRaw},
		{"IPv4", layers.LinkTypeIPv4, frameRaw},
		{"IPv6", layers.LinkTypeIPv6, frameRaw},
	}
	formats := []struct {
		name  string
		res   time.Duration
		write func(testing.TB, layers.LinkType, []pcapRecord) []byte
	}{
		{"pcap-le-us-pcapgo", time.Microsecond, func(tb testing.TB, lt layers.LinkType, r []pcapRecord) []byte {
			return pcapgoBytes(tb, false, lt, r)
		}},
		{"pcap-le-ns-pcapgo", time.Nanosecond, func(tb testing.TB, lt layers.LinkType, r []pcapRecord) []byte {
			return pcapgoBytes(tb, true, lt, r)
		}},
		{"pcap-be-us", time.Microsecond, func(_ testing.TB, lt layers.LinkType, r []pcapRecord) []byte {
			return pcapBytes(binary.BigEndian, false, lt, r)
		}},
		{"pcap-be-ns", time.Nanosecond, func(_ testing.TB, lt layers.LinkType, r []pcapRecord) []byte {
			return pcapBytes(binary.BigEndian, true, lt, r)
		}},
		{"pcapng", time.Nanosecond, func(tb testing.TB, lt layers.LinkType, r []pcapRecord) []byte {
			b, _ := pcapngBytes(tb, lt, r)
			return b
		}},
	}
	for _, l := range links {
		for _, f := range formats {
			t.Run(fmt.Sprintf("%s/%d/%s", l.name, l.lt, f.name), func(t *testing.T) {
				t.Parallel()
				recs, want := records(t, l.frameFn)
				if l.lt == layers.LinkTypeIPv4 || l.lt == layers.LinkTypeIPv6 {
					// These link types hold only one IP version: keep the matching datagrams.
					recs, want = filterVersion(recs, want, l.lt == layers.LinkTypeIPv6)
				}
				name := "test-" + l.name + "." + f.name
				data := f.write(t, l.lt, recs)
				got, err := Read(bytes.NewReader(data), name)
				require.NoError(t, err)
				assertOpenMatchesStream(t, data)
				assert.Equal(t, name, got.Name)
				assert.Equal(t, l.name, got.LinkType)
				wantSkipped := 1
				if l.lt == layers.LinkTypeIPv6 {
					wantSkipped = 0
				}
				assert.Equal(t, wantSkipped, got.Skipped)
				assert.Zero(t, got.Truncated)
				assertDatagrams(t, want, got.Datagrams, f.res)
			})
		}
	}
}

// filterVersion keeps the records and datagrams of one IP version.
func filterVersion(recs []pcapRecord, dgs []Datagram, v6 bool) ([]pcapRecord, []Datagram) {
	var r []pcapRecord
	var d []Datagram
	for _, rec := range recs {
		if isIPv6(rec.frame) == v6 {
			r = append(r, rec)
		}
	}
	for _, dg := range dgs {
		if dg.Src.Addr().Is6() == v6 {
			d = append(d, dg)
		}
	}
	return r, d
}

func TestReadMixedLinkTypesAndComments(t *testing.T) {
	t.Parallel()
	dgs := sampleDatagrams()
	var b bytes.Buffer
	w, err := pcapgo.NewNgWriterInterface(&b, pcapgo.NgInterface{LinkType: layers.LinkTypeEthernet, TimestampResolution: 9},
		pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Comment: "mixed"}})
	require.NoError(t, err)
	nullID, err := w.AddInterface(pcapgo.NgInterface{LinkType: layers.LinkTypeNull, TimestampResolution: 6})
	require.NoError(t, err)
	for i, d := range dgs {
		ci, frame := captureInfo(d.Time, frameEthernet(ipUDP(t, d)), 0)
		if i%2 == 1 {
			ci, frame = captureInfo(d.Time, frameNull(30)(ipUDP(t, d)), nullID)
		}
		require.NoError(t, w.WritePacketWithOptions(ci, frame, pcapgo.NgPacketOptions{Comments: []string{fmt.Sprintf("c%d", i)}}))
	}
	require.NoError(t, w.Flush())

	got, err := Read(&b, "mixed.pcapng")
	require.NoError(t, err)
	assert.Equal(t, "Ethernet,Null", got.LinkType)
	assert.Equal(t, "mixed", got.Section)
	assertDatagrams(t, dgs, got.Datagrams, time.Microsecond)
	for i := range dgs {
		assert.Equal(t, []string{fmt.Sprintf("c%d", i)}, got.Comments[i])
	}
}

func TestReadEmptyPcapng(t *testing.T) {
	t.Parallel()
	b, _ := pcapngBytes(t, layers.LinkTypeLinuxSLL, nil)
	got, err := Read(bytes.NewReader(b), "empty.pcapng")
	require.NoError(t, err)
	assert.Equal(t, "Linux SLL", got.LinkType)
	assert.Empty(t, got.Datagrams)
}

func TestReadTruncatedPayload(t *testing.T) {
	t.Parallel()
	d := sampleDatagrams()[0]
	frame := frameEthernet(ipUDP(t, d))
	cut := frame[:len(frame)-5]
	var b bytes.Buffer
	w := pcapgo.NewWriter(&b)
	require.NoError(t, w.WriteFileHeader(65535, layers.LinkTypeEthernet))
	require.NoError(t, w.WritePacket(gopacketCI(d.Time, len(cut), len(frame)), cut))
	got, err := Read(&b, "snap.pcap")
	require.NoError(t, err)
	require.Len(t, got.Datagrams, 1)
	assert.Equal(t, 1, got.Truncated)
	assert.Equal(t, d.Payload[:len(d.Payload)-5], got.Datagrams[0].Payload)
}

// TestReadReassemblesFragments: a UDP datagram larger than the link's MTU arrives in IPv4 or IPv6
// fragments; the reader gives it whole at the record of the fragment that completed it, as
// Wireshark does, and counts the others as skipped. Fragments that cannot make a whole datagram (one
// missing, overlapping, cut by the snap length, or still incomplete a minute (IPv4) or one to two
// minutes (IPv6) of capture time after the first) give none.
func TestReadReassemblesFragments(t *testing.T) {
	t.Parallel()
	payload := bytes.Repeat([]byte("0123456789abcdef"), 200) // 3200 bytes
	big4, big6 := sampleDatagrams()[0], sampleDatagrams()[3]
	big4.Payload, big6.Payload = payload, payload
	small := sampleDatagrams()[1]
	v4 := fragments(ipUDP(t, big4), 1480)          // 1480, 1480 and 248 bytes of the 3208-byte UDP datagram
	v6 := fragments6(ipUDP(t, big6), 1232, 0xbeef) // 1232, 1232 and 744 bytes
	require.Len(t, v4, 3)
	require.Len(t, v6, 3)
	overlap := fragments6(ipUDP(t, big6), 1240, 0xbeef)[1] // bytes 1240-2480: overlaps v6[1] (1232-2464)
	other6 := fragments6(ipUDP(t, big6), 1232, 0xcafe)[0]  // another datagram's first fragment
	at := func(i int) time.Time { return big4.Time.Add(time.Duration(i) * time.Millisecond) }
	rec := func(i int, ip []byte) pcapRecord { return pcapRecord{at(i), frameEthernet(ip)} }
	tests := []struct {
		name    string
		big     Datagram
		recs    []pcapRecord
		frames  []int // record numbers of the datagrams read
		payload []int // their payload lengths
	}{
		{"v4 in order", big4, []pcapRecord{rec(0, v4[0]), rec(1, v4[1]), rec(2, v4[2])}, []int{3}, []int{3200}},
		{"v4 last first, another datagram between", big4,
			[]pcapRecord{rec(0, v4[2]), rec(1, ipUDP(t, small)), rec(2, v4[0]), rec(3, v4[1])}, []int{2, 4}, []int{3, 3200}},
		{"v4 one missing", big4, []pcapRecord{rec(0, v4[0]), rec(1, v4[2])}, nil, nil},
		{"v6 in order", big6, []pcapRecord{rec(0, v6[0]), rec(1, v6[1]), rec(2, v6[2])}, []int{3}, []int{3200}},
		{"v6 last first, another datagram between", big6,
			[]pcapRecord{rec(0, v6[2]), rec(1, ipUDP(t, small)), rec(2, v6[0]), rec(3, v6[1])}, []int{2, 4}, []int{3, 3200}},
		{"v6 one missing", big6, []pcapRecord{rec(0, v6[0]), rec(1, v6[2])}, nil, nil},
		{"v6 overlapping fragments", big6, []pcapRecord{rec(0, v6[0]), rec(1, overlap), rec(2, v6[1]), rec(3, v6[2])}, nil, nil},
		{"v4 incomplete a minute after its first fragment", big4, []pcapRecord{rec(0, v4[0]), rec(1, v4[1]), rec(61_000, v4[2])}, nil, nil},
		{"v6 completed a minute after its first fragment", big6, []pcapRecord{rec(0, v6[0]), rec(1, v6[1]), rec(61_000, v6[2])}, []int{3}, []int{3200}},
		{"v6 incomplete two minutes after its first fragment", big6,
			[]pcapRecord{rec(0, v6[0]), rec(1, v6[1]), rec(61_000, other6), rec(122_000, v6[2])}, nil, nil},
		{"v6 the last fragment cut by the snap length", big6,
			[]pcapRecord{rec(0, v6[0]), rec(1, v6[1]), rec(2, v6[2][:len(v6[2])-8])}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Read(bytes.NewReader(pcapgoBytes(t, true, layers.LinkTypeEthernet, tt.recs)), "frag.pcap")
			require.NoError(t, err)
			assert.Equal(t, tt.frames, got.Frames)
			require.Len(t, got.Datagrams, len(tt.payload))
			for i, d := range got.Datagrams {
				assert.Len(t, d.Payload, tt.payload[i])
				if tt.payload[i] == len(payload) {
					assert.Equal(t, payload, d.Payload)
					assert.Equal(t, tt.big.Src, d.Src)
					assert.Equal(t, tt.big.Dst, d.Dst)
				}
			}
			assert.Equal(t, len(tt.recs)-len(tt.frames), got.Skipped)
			assert.Zero(t, got.Truncated)
		})
	}
}

func TestReadGzip(t *testing.T) {
	t.Parallel()
	recs, want := records(t, frameEthernet)
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, err := zw.Write(pcapgoBytes(t, true, layers.LinkTypeEthernet, recs))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	got, err := Read(&b, "x.pcap.gz")
	require.NoError(t, err)
	assertDatagrams(t, want, got.Datagrams, time.Nanosecond)
}

func TestReadFile(t *testing.T) {
	t.Parallel()
	recs, want := records(t, frameSLL2)
	path := filepath.Join(t.TempDir(), "sll2.pcap")
	require.NoError(t, os.WriteFile(path, pcapgoBytes(t, false, layers.LinkTypeLinuxSLL2, recs), 0o644))
	got, err := ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, path, got.Name)
	assertDatagrams(t, want, got.Datagrams, time.Microsecond)

	_, err = ReadFile(filepath.Join(t.TempDir(), "missing.pcap"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing.pcap")
}

func TestReadErrors(t *testing.T) {
	t.Parallel()
	recs, _ := records(t, frameEthernet)
	pcap := pcapgoBytes(t, false, layers.LinkTypeEthernet, recs)
	rec1 := 24 + 16 + len(recs[0].frame) // offset of record 1
	ng, ngOff := pcapngBytes(t, layers.LinkTypeEthernet, recs)
	badVersion := bytes.Clone(pcap)
	binary.LittleEndian.PutUint16(badVersion[4:], 9)
	dot11 := pcapgoBytes(t, false, layers.LinkTypeIEEE802_11, recs)
	bigRecord := bytes.Clone(pcap[:rec1+16])
	binary.LittleEndian.PutUint32(bigRecord[rec1+8:], 1<<30) // capture length beyond any snap length

	tests := []struct {
		name   string
		data   []byte
		offset int64
		msg    string
		kept   int // complete UDP records before the fault; -1: no File at all
	}{
		{"empty", nil, 0, "empty file", -1},
		{"text", []byte("this is not a capture file\n"), 0, "not a pcap or pcapng capture (starts with 74 68 69 73)", -1},
		{"three bytes", []byte{0xd4, 0xc3, 0xb2}, 0, "cut off after 3 bytes", -1},
		{"pcap header cut", pcap[:10], 0, "pcap file header cut off: the file ends at byte offset 10", -1},
		{"pcap bad version", badVersion, 0, "bad pcap file header", -1},
		{"unsupported link type", dot11, 20, "link type 105 is not supported", -1},
		{"record header cut", pcap[:24+7], 24, "pcap record cut off (reading packet 1): the file ends at byte offset 31", 0},
		{"record data cut", pcap[:rec1+16+3], int64(rec1), "pcap record cut off (reading packet 2)", 1},
		{"cut after record header", pcap[:rec1+16], int64(rec1), "pcap record cut off (reading packet 2)", 1},
		{"record too long", bigRecord, int64(rec1), "bad pcap record (reading packet 2)", 1},
		{"pcapng section cut", ng[:20], 0, "pcapng section header cut off", -1},
		{"pcapng block cut", ng[:ngOff[2]+30], int64(ngOff[2]), "pcapng block cut off (reading packet 3)", 2},
		{"pcapng bad byte order", append([]byte{0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 1, 2, 3, 4}, make([]byte, 16)...), 0, "bad pcapng section header", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name := "bad-" + strings.ReplaceAll(tt.name, " ", "-") + ".cap"
			assertOpenMatchesStream(t, tt.data)
			f, err := Read(bytes.NewReader(tt.data), name)
			require.Error(t, err)
			if tt.kept < 0 {
				assert.Nil(t, f)
			} else {
				require.NotNil(t, f, "the complete records before the fault")
				assert.Len(t, f.Datagrams, tt.kept)
			}
			var re *ReadError
			require.True(t, errors.As(err, &re), "error %T is a *ReadError", err)
			assert.Equal(t, name, re.Name)
			assert.Equal(t, tt.offset, re.Offset, "offset in %q", err)
			assert.Contains(t, err.Error(), tt.msg)
			assert.Contains(t, err.Error(), fmt.Sprintf("pcapfile: %s: byte offset %d: ", name, tt.offset))
		})
	}
}

func TestReadNilReader(t *testing.T) {
	t.Parallel()
	_, err := Read(nil, "nil")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nil")
}

// recordSummary is what a test compares of a Record.
type recordSummary struct {
	Frame, CapLen, Len, WireLen int
	Time                        time.Time
	UDP                         bool
	Src, Dst                    string
	Payload                     string
	Comments                    []string
}

// collect reads every record of rd and the error that ended the reading.
func collect(rd *Reader) ([]recordSummary, string) {
	var out []recordSummary
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			return out, ""
		}
		if err != nil {
			var re *ReadError
			if errors.As(err, &re) {
				return out, fmt.Sprintf("offset %d: %s", re.Offset, re.Msg)
			}
			return out, err.Error()
		}
		out = append(out, recordSummary{rec.Frame, rec.CaptureLength, rec.Length, rec.WireLen, rec.Time, rec.UDP,
			rec.Datagram.Src.String(), rec.Datagram.Dst.String(), string(rec.Datagram.Payload), rec.Comments})
	}
}

// assertOpenMatchesStream writes data to a file and checks that Open (which
// maps uncompressed pcap files) returns the same records and final error as
// a stream reader.
func assertOpenMatchesStream(t *testing.T, data []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.cap")
	require.NoError(t, os.WriteFile(path, data, 0o644))
	srd, err := NewReader(bytes.NewReader(data), path)
	if err != nil {
		_, _, oerr := Open(path)
		require.Error(t, oerr)
		return
	}
	want, wantErr := collect(srd)
	ord, closer, err := Open(path)
	require.NoError(t, err)
	defer closer.Close()
	got, gotErr := collect(ord)
	assert.Equal(t, want, got)
	assert.Equal(t, wantErr, gotErr)
}

// TestOpenCutAnywhere cuts a pcap file at every byte and checks that the
// mapped reader returns what the stream reader returns: the complete records
// before the cut, then the same error.
func TestOpenCutAnywhere(t *testing.T) {
	t.Parallel()
	recs, _ := records(t, frameEthernet)
	for _, nanos := range []bool{false, true} {
		data := pcapgoBytes(t, nanos, layers.LinkTypeEthernet, recs)
		for n := 0; n <= len(data); n += 1 + n%3 {
			assertOpenMatchesStream(t, data[:n])
		}
	}
	big := pcapBytes(binary.BigEndian, true, layers.LinkTypeNull, func() []pcapRecord { r, _ := records(t, frameNull(30)); return r }())
	assertOpenMatchesStream(t, big)
	assertOpenMatchesStream(t, big[:len(big)-3])
}
