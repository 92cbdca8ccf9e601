package link

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// DropList drops the datagrams whose index (the n-th WriteTo in the direction, 0-based) it lists,
// as quic-interop-runner's droplist does.
type DropList struct {
	Ranges []IndexRange // sorted, disjoint, not adjacent (Parse and normalize make them so)
}

// IndexRange is an inclusive range of datagram indexes.
type IndexRange struct {
	First, Last uint64
}

// Contains reports whether the list holds index i.
func (d DropList) Contains(i uint64) bool {
	k, _ := slices.BinarySearchFunc(d.Ranges, i, func(r IndexRange, i uint64) int {
		switch {
		case r.Last < i:
			return -1
		case r.First > i:
			return 1
		}
		return 0
	})
	return k < len(d.Ranges) && d.Ranges[k].First <= i && i <= d.Ranges[k].Last
}

// Len returns the number of indexes listed.
func (d DropList) Len() uint64 {
	var n uint64
	for _, r := range d.Ranges {
		n += r.Last - r.First + 1
	}
	return n
}

func (d DropList) validate() error {
	for _, r := range d.Ranges {
		if r.Last < r.First {
			return fmt.Errorf("drop range %d-%d ends before it starts", r.First, r.Last)
		}
	}
	return nil
}

// normalize sorts the ranges and merges the overlapping and adjacent ones.
func (d DropList) normalize() DropList {
	if len(d.Ranges) == 0 {
		return DropList{}
	}
	rs := slices.Clone(d.Ranges)
	slices.SortFunc(rs, func(a, b IndexRange) int { return cmpUint(a.First, b.First) })
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if last.Last == ^uint64(0) || r.First <= last.Last+1 {
			last.Last = max(last.Last, r.Last)
			continue
		}
		out = append(out, r)
	}
	return DropList{Ranges: out}
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// parseDropList reads "0+3+7" and inclusive ranges "2-5".
func parseDropList(v string) (DropList, error) {
	var d DropList
	for item := range strings.SplitSeq(v, "+") {
		lo, hi, isRange := strings.Cut(item, "-")
		first, err := strconv.ParseUint(lo, 10, 64)
		if err != nil {
			return DropList{}, fmt.Errorf("%q is not a datagram index (want 0+3+7 or 2-5)", item)
		}
		last := first
		if isRange {
			if last, err = strconv.ParseUint(hi, 10, 64); err != nil || last < first {
				return DropList{}, fmt.Errorf("%q is not a range of datagram indexes (want 2-5)", item)
			}
		}
		d.Ranges = append(d.Ranges, IndexRange{first, last})
	}
	return d.normalize(), nil
}

func (d DropList) format() string {
	parts := make([]string, len(d.Ranges))
	for i, r := range d.Ranges {
		parts[i] = strconv.FormatUint(r.First, 10)
		if r.Last != r.First {
			parts[i] += "-" + strconv.FormatUint(r.Last, 10)
		}
	}
	return strings.Join(parts, "+")
}
