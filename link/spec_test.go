package link

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	t.Parallel()
	both := func(d DirConfig) Config { return Config{C2S: d, S2C: d} }
	tests := []struct {
		spec string
		want Config
	}{
		{"", Config{}},
		{"  ", Config{}},
		{"loss=10%", both(DirConfig{Loss: Loss{0.1}})},
		{"loss=0.1", both(DirConfig{Loss: Loss{0.1}})},
		{"loss=100%", both(DirConfig{Loss: Loss{1}})},
		{"loss=0", Config{}},
		{"loss=10%,burst=4", both(DirConfig{Loss: Loss{0.1}, Burst: Burst{4}})},
		{"drop=7+0+3", both(DirConfig{DropList: DropList{[]IndexRange{{0, 0}, {3, 3}, {7, 7}}}})},
		{"drop=2-5+6+9", both(DirConfig{DropList: DropList{[]IndexRange{{2, 6}, {9, 9}}}})},
		{"delay=30ms", both(DirConfig{Delay: Delay{30 * time.Millisecond}})},
		{"jitter=10ms", both(DirConfig{Jitter: Jitter{Amplitude: 10 * time.Millisecond}})},
		{"jitter=10ms,reorder=true", both(DirConfig{Jitter: Jitter{10 * time.Millisecond, true}})},
		{"jitter=10ms,reorder=false", both(DirConfig{Jitter: Jitter{Amplitude: 10 * time.Millisecond}})},
		{"dup=1%", both(DirConfig{Duplicate: Duplicate{0.01}})},
		{"rate=1mbit", both(DirConfig{Rate: Rate{BytesPerSecond: 125000}})},
		{"rate=1Mbit", both(DirConfig{Rate: Rate{BytesPerSecond: 125000}})},
		{"rate=1.5mbit", both(DirConfig{Rate: Rate{BytesPerSecond: 187500}})},
		{"rate=100kB/s", both(DirConfig{Rate: Rate{BytesPerSecond: 100000}})},
		{"rate=2MB/s", both(DirConfig{Rate: Rate{BytesPerSecond: 2000000}})},
		{"rate=800bit", both(DirConfig{Rate: Rate{BytesPerSecond: 100}})},
		{"rate=1mbit,queue=64kB", both(DirConfig{Rate: Rate{BytesPerSecond: 125000, QueueBytes: 64000}})},
		{"rate=1mbit,queue=100pkt", both(DirConfig{Rate: Rate{BytesPerSecond: 125000, QueuePackets: 100}})},
		{"blackhole=2s..", both(DirConfig{Blackholes: []Blackhole{{From: 2 * time.Second}}})},
		{"blackhole=1s..3s", both(DirConfig{Blackholes: []Blackhole{{time.Second, 3 * time.Second}}})},
		{"blackhole=5s..+..1s+500ms..2s", both(DirConfig{Blackholes: []Blackhole{{0, 2 * time.Second}, {From: 5 * time.Second}}})},
		{"c2s.loss=5%", Config{C2S: DirConfig{Loss: Loss{0.05}}}},
		{"s2c.delay=1ms , loss=1%", Config{C2S: DirConfig{Loss: Loss{0.01}}, S2C: DirConfig{Loss: Loss{0.01}, Delay: Delay{time.Millisecond}}}},
		{"c2s.loss=5%,loss=1%", Config{C2S: DirConfig{Loss: Loss{0.05}}, S2C: DirConfig{Loss: Loss{0.01}}}},
		{"loss=10%,delay=30ms,jitter=10ms,s2c.blackhole=2s..", Config{
			C2S: DirConfig{Loss: Loss{0.1}, Delay: Delay{30 * time.Millisecond}, Jitter: Jitter{Amplitude: 10 * time.Millisecond}},
			S2C: DirConfig{Loss: Loss{0.1}, Delay: Delay{30 * time.Millisecond}, Jitter: Jitter{Amplitude: 10 * time.Millisecond},
				Blackholes: []Blackhole{{From: 2 * time.Second}}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tt.spec)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.spec, err)
			}
			if !got.Equal(tt.want) {
				t.Fatalf("Parse(%q) = %+v, want %+v", tt.spec, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec string
		name []string // what the message must name
	}{
		{"lose=10%", []string{`"lose"`, "unknown key"}},
		{"x2y.loss=10%", []string{`"x2y.loss"`}},
		{"c2s.foo=1", []string{`"c2s.foo"`}},
		{"loss", []string{`"loss"`, "no value"}},
		{"loss=", []string{`"loss="`, "no value"}},
		{"loss=10%,", []string{"empty item"}},
		{"loss=abc", []string{`"abc"`, "loss"}},
		{"loss=10", []string{`"10"`, "loss"}},
		{"loss=1", []string{`"1"`, "loss"}},
		{"loss=-1%", []string{`"-1%"`, "loss"}},
		{"loss=101%", []string{`"101%"`, "loss"}},
		{"loss=NaN", []string{`"NaN"`, "loss"}},
		{"c2s.loss=2x", []string{`"2x"`, "c2s.loss"}},
		{"loss=1%,loss=2%", []string{"loss", "twice"}},
		{"s2c.loss=1%,s2c.loss=2%", []string{"s2c.loss", "twice"}},
		{"burst=0.5,loss=10%", []string{`"0.5"`, "burst"}},
		{"burst=x,loss=10%", []string{`"x"`, "burst"}},
		{"burst=4", []string{`"burst"`, "needs loss"}},
		{"c2s.burst=4,s2c.loss=1%", []string{"burst", "c2s", "needs loss"}},
		{"burst=1,loss=60%", []string{"burst", "60%"}},
		{"drop=a", []string{`"a"`, "drop"}},
		{"drop=1;2", []string{`"1;2"`, "drop"}},
		{"drop=5-2", []string{`"5-2"`, "drop"}},
		{"drop=1+", []string{`"1+"`, "drop"}},
		{"drop=-1", []string{`"-1"`, "drop"}},
		{"delay=30", []string{`"30"`, "delay"}},
		{"delay=-1ms", []string{`"-1ms"`, "delay"}},
		{"jitter=fast", []string{`"fast"`, "jitter"}},
		{"reorder=yes,jitter=1ms", []string{`"yes"`, "reorder"}},
		{"reorder=true", []string{`"reorder"`, "needs jitter"}},
		{"dup=2", []string{`"2"`, "dup"}},
		{"rate=1", []string{`"1"`, "rate", "unit"}},
		{"rate=1mb", []string{`"1mb"`, "rate"}},
		{"rate=0mbit", []string{`"0mbit"`, "rate"}},
		{"rate=-5kbit", []string{`"-5kbit"`, "rate"}},
		{"rate=1kb/s", []string{`"1kb/s"`, "rate"}},
		{"queue=64kB", []string{"queue", "needs rate"}},
		{"rate=1mbit,queue=64", []string{`"64"`, "queue"}},
		{"rate=1mbit,queue=0pkt", []string{`"0pkt"`, "queue"}},
		{"rate=1mbit,queue=1.5pkt", []string{`"1.5pkt"`, "queue"}},
		{"blackhole=2s", []string{`"2s"`, "blackhole"}},
		{"blackhole=3s..1s", []string{`"3s..1s"`, "blackhole"}},
		{"blackhole=2x..", []string{`"2x.."`, "blackhole"}},
		{"blackhole=-1s..", []string{`"-1s.."`, "blackhole"}},
		{"blackhole=1s..1s", []string{`"1s..1s"`, "blackhole"}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tt.spec)
			if err == nil {
				t.Fatalf("Parse(%q): no error", tt.spec)
			}
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q): error %T, want *SpecError", tt.spec, err)
			}
			for _, n := range tt.name {
				if !strings.Contains(err.Error(), n) {
					t.Errorf("Parse(%q): %q does not name %s", tt.spec, err, n)
				}
			}
		})
	}
}

func TestSpecRoundTrip(t *testing.T) {
	t.Parallel()
	specs := []string{
		"",
		"loss=10%",
		"loss=33.3%",
		"loss=0.123456789",
		"loss=1e-7",
		"loss=10%,burst=4",
		"loss=10%,burst=2.5,drop=0+3+7-9",
		"delay=30ms,jitter=10ms,reorder=true",
		"c2s.delay=1.5s,s2c.delay=2ms",
		"dup=1%,rate=1mbit,queue=64kB",
		"rate=100kB/s,queue=100pkt",
		"rate=1001B/s,queue=1500B",
		"rate=3kbit",
		"rate=1gbit,queue=1MB",
		"blackhole=2s..",
		"s2c.blackhole=1s..3s+5s..",
		"loss=10%,delay=30ms,jitter=10ms,s2c.blackhole=2s..",
		"c2s.loss=1%,s2c.loss=2%,c2s.burst=3,s2c.jitter=1ms,s2c.reorder=true,c2s.drop=4",
	}
	for _, s := range specs {
		t.Run(s, func(t *testing.T) {
			t.Parallel()
			c := MustParse(s)
			canon := c.String()
			c2, err := Parse(canon)
			if err != nil {
				t.Fatalf("Parse(%q) (canonical of %q): %v", canon, s, err)
			}
			if !c2.Equal(c) {
				t.Fatalf("Parse(String()) = %+v, want %+v (canonical %q)", c2, c, canon)
			}
			if again := c2.String(); again != canon {
				t.Fatalf("String() not stable: %q then %q", canon, again)
			}
		})
	}
	if got := MustParse("loss=10%,delay=30ms,jitter=10ms,s2c.blackhole=2s..").String(); got != "loss=10%,delay=30ms,jitter=10ms,s2c.blackhole=2s.." {
		t.Errorf("canonical = %q", got)
	}
}

// FuzzParse: whatever Parse accepts renders to a canonical SPEC that Parse reads back to the same
// Config; whatever it rejects is a *SpecError.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"loss=10%", "loss=10%,burst=4", "drop=0+3+7-9", "c2s.delay=1.5s,s2c.jitter=2ms,s2c.reorder=true",
		"rate=1mbit,queue=64kB", "rate=100kB/s,queue=10pkt", "blackhole=1s..3s+5s..", "dup=0.5", "loss=1e-3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q): %T %v", s, err, err)
			}
			return
		}
		canon := c.String()
		c2, err := Parse(canon)
		if err != nil || !c2.Equal(c) || c2.String() != canon {
			t.Fatalf("Parse(%q) = %+v renders %q, which reads back as %+v, %v", s, c, canon, c2, err)
		}
	})
}
