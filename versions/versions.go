// Package versions builds kcplab against other kcp-go releases: it knows the ordered list of
// releases, generates a go.mod (used with -modfile) that links a given release, and builds and caches
// one kcplab binary per release and state of the project's sources.
package versions

import (
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"kcplab/internal/kcpgo"
)

// Module paths of kcp-go.
const (
	ModulePath = kcpgo.ModulePath          // v5.5.0 and later; the path kcplab imports
	SeedPath   = "github.com/xtaci/kcp-go" // v5.4.20 and older, as +incompatible (no go.mod)
)

// SeedVersion is what the seed post's import path (no /v5) resolves to.
const SeedVersion = "v5.4.20+incompatible"

// Defaults are the releases `kcplab matrix` runs when none is named, oldest first: the seed's, Debian's
// kcptun (v5.6.1), @latest until recently (v5.6.24), kcplab's pin (v5.6.72) and @latest (v5.7.6).
var Defaults = []string{SeedVersion, "v5.6.1", "v5.6.24", "v5.6.72", "v5.7.6"}

//go:embed releases.txt
var releasesTxt string

// ErrUnknown is returned for a version that is not a kcp-go release kcplab can build.
var ErrUnknown = errors.New("unknown kcp-go version")

// Releases returns the kcp-go releases the Go module proxy serves, oldest first, as module versions
// (v5.4.20 and older with +incompatible), from the list compiled into this package.
func Releases() []string {
	var out []string
	for _, line := range strings.Split(releasesTxt, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		v, err := parse(f[0])
		if err != nil || unserved(v) {
			continue
		}
		out = append(out, v.String())
	}
	return out
}

// semver is a release number vMAJOR.MINOR.PATCH.
type semver struct{ major, minor, patch int }

func parse(s string) (semver, error) {
	s = strings.TrimSuffix(s, "+incompatible")
	p := strings.Split(strings.TrimPrefix(s, "v"), ".")
	if !strings.HasPrefix(s, "v") || len(p) != 3 {
		return semver{}, fmt.Errorf("%w %q: want vMAJOR.MINOR.PATCH, e.g. v5.6.1, or seed", ErrUnknown, s)
	}
	var n [3]int
	for i, x := range p {
		v, err := strconv.Atoi(x)
		if err != nil || v < 0 || x != strconv.Itoa(v) {
			return semver{}, fmt.Errorf("%w %q: want vMAJOR.MINOR.PATCH, e.g. v5.6.1, or seed", ErrUnknown, s)
		}
		n[i] = v
	}
	return semver{n[0], n[1], n[2]}, nil
}

func (v semver) less(w semver) bool {
	if v.major != w.major {
		return v.major < w.major
	}
	if v.minor != w.minor {
		return v.minor < w.minor
	}
	return v.patch < w.patch
}

// incompatible reports whether v is served under SeedPath as +incompatible (v5.4.20 and older).
func (v semver) incompatible() bool { return v.major >= 2 && !(semver{5, 4, 20}).less(v) }

// unserved: v5.4.21-v5.4.26 declare the path without /v5 in a go.mod, so neither path serves them.
func unserved(v semver) bool { return v.major == 5 && v.minor == 4 && v.patch > 20 }

func (v semver) String() string {
	s := fmt.Sprintf("v%d.%d.%d", v.major, v.minor, v.patch)
	if v.incompatible() {
		s += "+incompatible"
	}
	return s
}

// Normalize turns a version as a user names it ("seed", "v5.4.20", "v5.6.1") into the module version
// kcplab builds ("v5.4.20+incompatible", "v5.6.1"), and a working tree's path (IsLocal) into its clean
// form ("kcp-go/" is "./kcp-go"). It checks the form, not that the proxy serves it or that the tree is
// there (ReadTree).
func Normalize(s string) (string, error) {
	if IsLocal(s) {
		return cleanLocal(s), nil
	}
	if s == "seed" {
		return SeedVersion, nil
	}
	v, err := parse(s)
	if err != nil {
		return "", err
	}
	if v.major != 5 {
		return "", fmt.Errorf("%w %q: kcplab builds kcp-go v5 releases only", ErrUnknown, s)
	}
	if unserved(v) {
		return "", fmt.Errorf("%w %q: v5.4.21-v5.4.26 are served under neither module path", ErrUnknown, s)
	}
	if strings.HasSuffix(s, "+incompatible") && !v.incompatible() {
		return "", fmt.Errorf("%w %q: did you mean %s?", ErrUnknown, s, v)
	}
	return v.String(), nil
}

// Path returns the module path a (normalized) version is served under.
func Path(version string) string {
	if strings.HasSuffix(version, "+incompatible") {
		return SeedPath
	}
	return ModulePath
}

// Compare orders two normalized versions: -1, 0 or +1. A working tree is newer than every release
// (it is what comes next), and two trees are equal.
func Compare(a, b string) int {
	switch la, lb := IsLocal(a), IsLocal(b); {
	case la && lb:
		return 0
	case la:
		return 1
	case lb:
		return -1
	}
	va, _ := parse(a)
	vb, _ := parse(b)
	switch {
	case va.less(vb):
		return -1
	case vb.less(va):
		return 1
	}
	return 0
}

// Between returns the known releases from..to, both included, oldest first. from and to are
// normalized versions; either may be missing from the list (a newer release), and is then included
// at its place. A working tree (IsLocal) at either end is the other way to go: to a tree, from the
// release from up through every newer release, then the tree; from a tree, the tree, then every
// release down to to, newest first (the first release that differs from the tree, going back); from
// a tree to a tree, the two.
func Between(from, to string) ([]string, error) {
	switch {
	case IsLocal(from) && IsLocal(to):
		return []string{from, to}, nil
	case IsLocal(to):
		return append(upFrom(from), to), nil
	case IsLocal(from):
		down := upFrom(to)
		slices.Reverse(down)
		return append([]string{from}, down...), nil
	}
	if Compare(from, to) > 0 {
		return nil, fmt.Errorf("%s is newer than %s", from, to)
	}
	out := []string{from}
	for _, r := range Releases() {
		if Compare(r, from) > 0 && Compare(r, to) < 0 {
			out = append(out, r)
		}
	}
	if to != from {
		out = append(out, to)
	}
	return out, nil
}

// upFrom is v and every known release newer than v, oldest first.
func upFrom(v string) []string {
	out := []string{v}
	for _, r := range Releases() {
		if Compare(r, v) > 0 {
			out = append(out, r)
		}
	}
	return out
}

// Known reports whether version is in the compiled-in release list.
func Known(version string) bool {
	for _, r := range Releases() {
		if r == version {
			return true
		}
	}
	return false
}
