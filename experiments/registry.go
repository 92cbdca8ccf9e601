// Package experiments holds kcplab's experiments, one per file. Each file declares an
// *harness.Experiment and registers it in init; nothing else needs to change to add one.
package experiments

import (
	"errors"
	"fmt"
	"sort"

	"kcplab/harness"
)

var registry = map[string]*harness.Experiment{}

func register(e *harness.Experiment) {
	if _, dup := registry[e.ID]; dup {
		panic("experiments: duplicate id " + e.ID) // a programming error caught by every test run
	}
	registry[e.ID] = e
}

// All returns every experiment, sorted by id, with an experiment that lists several links as one
// experiment per link (harness.Experiment.Variants).
func All() []*harness.Experiment {
	out := make([]*harness.Experiment, 0, len(registry))
	for _, e := range registry {
		out = append(out, e.Variants()...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// SelectAll returns the experiments of ids (Select), in order; all of them (All) when ids is empty.
func SelectAll(ids []string) ([]*harness.Experiment, error) {
	if len(ids) == 0 {
		return All(), nil
	}
	var out []*harness.Experiment
	for _, id := range ids {
		es, err := Select(id)
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	return out, nil
}

// Select returns the experiments an id names: the experiment, every link variant of it, or one
// variant by its full id ("close-under-loss@loss=10%").
func Select(id string) ([]*harness.Experiment, error) {
	if e, ok := registry[id]; ok {
		return e.Variants(), nil
	}
	for _, e := range All() {
		if e.ID == id {
			return []*harness.Experiment{e}, nil
		}
	}
	_, err := Lookup(id)
	return nil, err
}

// ErrUnknown is an id that names no experiment.
var ErrUnknown = errors.New("unknown experiment")

// Lookup returns the experiment registered with the given id, or an error listing the known ids.
func Lookup(id string) (*harness.Experiment, error) {
	if e, ok := registry[id]; ok {
		return e, nil
	}
	ids := make([]string, 0, len(registry))
	for k := range registry {
		ids = append(ids, k)
	}
	sort.Strings(ids)
	return nil, fmt.Errorf("%w %q (known: %v)", ErrUnknown, id, ids)
}
