package link

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"kcplab/internal/dir"
)

// SpecError is a bad SPEC: the key (as written, with its prefix) or value at fault and why.
type SpecError struct {
	Key    string // the key as written, e.g. "c2s.loss"; the whole item if it has no '='
	Value  string // the value as written; empty for an unknown key
	Reason string
}

// Error names the key and the value.
func (e *SpecError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("link: %s: %s", strconv.Quote(e.Key), e.Reason)
	}
	return fmt.Sprintf("link: bad value %q for %s: %s", e.Value, e.Key, e.Reason)
}

// Keys lists the SPEC keys in canonical order.
var Keys = []string{"loss", "burst", "drop", "delay", "jitter", "reorder", "dup", "rate", "queue", "blackhole"}

// specKey reads and renders one key of a direction's config.
type specKey struct {
	set    func(d *DirConfig, v string) error
	render func(d DirConfig) string // "" when the key is not set
}

// field is a key whose value is parsed into one field of a direction's config and rendered back.
func field[T any](at func(d *DirConfig) *T, parse func(string) (T, error), render func(T) string) specKey {
	return specKey{
		set: func(d *DirConfig, v string) (err error) {
			*at(d), err = parse(v)
			return err
		},
		render: func(d DirConfig) string { return render(*at(&d)) },
	}
}

var specKeys = map[string]specKey{
	"loss": field(func(d *DirConfig) *float64 { return &d.Loss.Probability }, parseProbability, renderProbability),
	"burst": {
		set: func(d *DirConfig, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || !(f >= 1) || math.IsInf(f, 0) {
				return fmt.Errorf("want a mean burst length in datagrams, >= 1 (e.g. burst=4)")
			}
			d.Burst.MeanLengthDatagrams = f
			return nil
		},
		render: func(d DirConfig) string {
			if d.Burst.MeanLengthDatagrams == 0 {
				return ""
			}
			return strconv.FormatFloat(d.Burst.MeanLengthDatagrams, 'g', -1, 64)
		},
	},
	"drop":   field(func(d *DirConfig) *DropList { return &d.DropList }, parseDropList, DropList.format),
	"delay":  field(func(d *DirConfig) *time.Duration { return &d.Delay.Latency }, parseDuration, renderDuration),
	"jitter": field(func(d *DirConfig) *time.Duration { return &d.Jitter.Amplitude }, parseDuration, renderDuration),
	"reorder": {
		set: func(d *DirConfig, v string) error {
			switch v {
			case "true":
				d.Jitter.Reorder = true
			case "false":
				d.Jitter.Reorder = false
			default:
				return fmt.Errorf("want true or false")
			}
			return nil
		},
		render: func(d DirConfig) string {
			if d.Jitter.Reorder {
				return "true"
			}
			return ""
		},
	},
	"dup": field(func(d *DirConfig) *float64 { return &d.Duplicate.Probability }, parseProbability, renderProbability),
	"rate": {
		set: func(d *DirConfig, v string) (err error) {
			d.Rate.BytesPerSecond, err = parseRate(v)
			return err
		},
		render: func(d DirConfig) string {
			if d.Rate.BytesPerSecond == 0 {
				return ""
			}
			return formatRate(d.Rate.BytesPerSecond)
		},
	},
	"queue": {
		set: func(d *DirConfig, v string) (err error) {
			d.Rate.QueueBytes, d.Rate.QueuePackets, err = parseQueue(v)
			return err
		},
		render: func(d DirConfig) string {
			if d.Rate.QueueBytes == 0 && d.Rate.QueuePackets == 0 {
				return ""
			}
			return formatQueue(d.Rate)
		},
	},
	"blackhole": field(func(d *DirConfig) *[]Blackhole { return &d.Blackholes }, parseBlackholes, formatBlackholes),
}

// Parse reads a SPEC (see the package documentation). An empty SPEC is a perfect link. Every
// error is a *SpecError naming the bad key or value.
func Parse(spec string) (Config, error) {
	var cfg Config
	if strings.TrimSpace(spec) == "" {
		return cfg, nil
	}
	type item struct {
		key, base, value string
		dirs             []dir.Dir
	}
	var both, one []item
	seen := map[string]string{} // direction + base key -> the key as written
	for raw := range strings.SplitSeq(spec, ",") {
		part := strings.TrimSpace(raw)
		if part == "" {
			return Config{}, &SpecError{Key: spec, Reason: "empty item (two commas, or a comma at an end)"}
		}
		key, value, ok := strings.Cut(part, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok || value == "" {
			return Config{}, &SpecError{Key: part, Reason: "has no value (want key=value)"}
		}
		it := item{key: key, base: key, value: value, dirs: dir.Both[:]}
		if base, found := strings.CutPrefix(key, "c2s."); found {
			it.base, it.dirs = base, []dir.Dir{dir.C2S}
		} else if base, found := strings.CutPrefix(key, "s2c."); found {
			it.base, it.dirs = base, []dir.Dir{dir.S2C}
		}
		if _, known := specKeys[it.base]; !known {
			return Config{}, &SpecError{Key: key, Reason: "unknown key (want " + strings.Join(Keys, ", ") +
				", each optionally prefixed c2s. or s2c.)"}
		}
		scope := "both"
		if len(it.dirs) == 1 {
			scope = it.dirs[0].Key()
		}
		if prev, dup := seen[scope+"."+it.base]; dup {
			return Config{}, &SpecError{Key: key, Reason: fmt.Sprintf("given twice (as %s and %s)", prev, key)}
		}
		seen[scope+"."+it.base] = key
		if len(it.dirs) == 2 {
			both = append(both, it)
		} else {
			one = append(one, it)
		}
	}
	// Unprefixed keys first, so a prefixed key overrides them for its direction.
	for _, it := range append(both, one...) {
		for _, d := range it.dirs {
			if err := specKeys[it.base].set(cfg.dir(d), it.value); err != nil {
				return Config{}, &SpecError{Key: it.key, Value: it.value, Reason: err.Error()}
			}
		}
	}
	for _, d := range dir.Both {
		if err := cfg.Dir(d).Validate(); err != nil {
			key, reason, _ := strings.Cut(err.Error(), ": ")
			return Config{}, &SpecError{Key: key, Reason: d.Key() + ": " + reason}
		}
	}
	return cfg, nil
}

// MustParse is Parse for SPECs known to be good; it panics on an error.
func MustParse(spec string) Config {
	c, err := Parse(spec)
	if err != nil {
		panic(err)
	}
	return c
}

// String renders the canonical SPEC: keys in the order of Keys, unprefixed when both directions
// agree, else prefixed per direction; unset keys are left out. A perfect link renders as "".
func (c Config) String() string {
	var parts []string
	for _, k := range Keys {
		r := specKeys[k].render
		a, b := r(c.C2S), r(c.S2C)
		switch {
		case a == b && a != "":
			parts = append(parts, k+"="+a)
		case a != b:
			if a != "" {
				parts = append(parts, "c2s."+k+"="+a)
			}
			if b != "" {
				parts = append(parts, "s2c."+k+"="+b)
			}
		}
	}
	return strings.Join(parts, ",")
}

// parseProbability reads "10%" or "0.1". A bare number must be below 1 (write 100% for certainty),
// so that loss=1 is not taken for 100% when 1% was meant.
func parseProbability(v string) (float64, error) {
	if num, ok := strings.CutSuffix(v, "%"); ok {
		f, err := strconv.ParseFloat(num, 64)
		if err != nil || math.IsNaN(f) || f < 0 || f > 100 {
			return 0, fmt.Errorf("want a percentage in [0%%, 100%%] (e.g. 10%%) or a fraction below 1 (e.g. 0.1)")
		}
		return f / 100, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f >= 1 {
		return 0, fmt.Errorf("want a percentage in [0%%, 100%%] (e.g. 10%%) or a fraction below 1 (e.g. 0.1)")
	}
	return f, nil
}

// renderProbability renders p as a percentage when that reads back exactly, else as a fraction.
func renderProbability(p float64) string {
	if p == 0 {
		return ""
	}
	s := strconv.FormatFloat(p*100, 'g', -1, 64) + "%"
	if q, err := parseProbability(s); err == nil && q == p {
		return s
	}
	return strconv.FormatFloat(p, 'g', -1, 64)
}

// formatProbability is renderProbability with "0%" for zero, for messages.
func formatProbability(p float64) string {
	if p == 0 {
		return "0%"
	}
	return renderProbability(p)
}

func parseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("want a non-negative duration like 30ms or 1.5s")
	}
	return d, nil
}

func renderDuration(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// Flag is a flag.Value holding a link SPEC, parsed when set: Config is nil until then.
type Flag struct{ Config *Config }

// String is the link's spec as -link takes it ("" for none).
func (f *Flag) String() string {
	if f == nil || f.Config == nil {
		return ""
	}
	return f.Config.String()
}

// Set parses spec.
func (f *Flag) Set(spec string) error {
	c, err := Parse(spec)
	if err != nil {
		return err
	}
	f.Config = &c
	return nil
}
