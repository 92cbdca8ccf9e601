package matrix

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"kcplab/versions"
)

// The peers of a pairs run (Pairs): kcp-go releases or working trees, which it builds kcplab against
// and runs as `kcplab peer`, and peers of other implementations, which are commands that speak the
// peer protocol (peer/peer.go): the C reference's (ikcp) and any a user names with -peer NAME=CMD.

// ErrBadPeer marks a peer named wrongly: an unknown implementation, a -peer that is not NAME=CMD or
// whose command is not there, a built-in peer not built yet. Bad input.
var ErrBadPeer = errors.New("bad peer")

// ErrPeerStart marks a peer that did not start: its command failed, ended, wrote something other
// than the protocol, said no hello or spoke another protocol version.
var ErrPeerStart = errors.New("the peer did not start")

// PeerSpec is one peer of a pairs run.
type PeerSpec struct {
	// Label names its rows and columns, and its directories: a kcp-go version ("v5.7.6", a working
	// tree's "./kcp-go"), "ikcp", or a -peer NAME.
	Label string
	// KCPGo is the kcp-go version to build `kcplab peer` against (versions.Builder); empty for a
	// Command.
	KCPGo string
	// Command is the command line of a peer that is not a kcp-go build.
	Command []string
}

// ReleasePeers is a kcp-go peer per version of vs (normalized).
func ReleasePeers(vs []string) []PeerSpec {
	out := make([]PeerSpec, len(vs))
	for i, v := range vs {
		out[i] = PeerSpec{Label: v, KCPGo: v}
	}
	return out
}

// Builtins are the peers of other implementations kcplab knows by name, each resolving to a command
// in the source tree root.
var Builtins = map[string]func(root string) ([]string, error){"ikcp": ikcpPeer}

// ikcpPeer is the C reference's peer: `node peers/ikcp/peer.js`, once peers/ikcp/build.sh has
// installed its Node modules (node-kcp, which builds ikcp.c).
func ikcpPeer(root string) ([]string, error) {
	const how = "build it first with peers/ikcp/build.sh (it installs Node.js where missing and runs npm ci in peers/ikcp)"
	dir := filepath.Join(root, "peers", "ikcp")
	for _, need := range []string{"peer.js", "node_modules"} {
		if _, err := os.Stat(filepath.Join(dir, need)); err != nil {
			return nil, fmt.Errorf("%w: ikcp: the C reference's peer is not built (%s is missing): %s", ErrBadPeer, filepath.Join("peers", "ikcp", need), how)
		}
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("%w: ikcp: no node on PATH: %s", ErrBadPeer, how)
	}
	return []string{node, filepath.Join(dir, "peer.js")}, nil
}

// peerName is what a -peer NAME may be: a word that names no release, path or built-in.
var peerName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._+-]*$`)

// looksLikeVersion: a kcp-go release as the user names it ("seed", "v5.7.6") or a working tree's path.
var looksLikeVersion = regexp.MustCompile(`^(seed|v[0-9].*)$`)

// parsePeerDef parses -peer's NAME=CMD ARGS (the command split at spaces) and checks that the
// command is there.
func parsePeerDef(def string) (PeerSpec, error) {
	name, cmdline, ok := strings.Cut(def, "=")
	args := strings.Fields(cmdline)
	switch {
	case !ok || len(args) == 0:
		return PeerSpec{}, fmt.Errorf("%w: -peer %q: want NAME='CMD ARGS', e.g. -peer mykcp='node /src/mykcp/peer.js'", ErrBadPeer, def)
	case !peerName.MatchString(name) || looksLikeVersion.MatchString(name) || name == "kcp-go" || Builtins[name] != nil:
		return PeerSpec{}, fmt.Errorf("%w: -peer %s: the name must be a word (letters, digits, . _ + -, a letter first) that is not a kcp-go version, kcp-go or a built-in peer (%s)",
			ErrBadPeer, name, strings.Join(builtinNames(), ", "))
	}
	if _, err := exec.LookPath(args[0]); err != nil {
		return PeerSpec{}, fmt.Errorf("%w: -peer %s: %v", ErrBadPeer, name, err)
	}
	return PeerSpec{Label: name, Command: args}, nil
}

func builtinNames() []string {
	var out []string
	for n := range Builtins {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// ParsePeers resolves the peers of a pairs run, in the order named, each once: items (-peers) are
// kcp-go@VERSION or a bare VERSION (a release, or a working tree's path: version normalizes and
// checks it), a built-in's name (ikcp, found under the source tree root), or the NAME of a def; defs
// (-peer NAME=CMD ARGS) define peers of any other command, and those items do not name come last. An
// error that is the user's (ErrBadPeer) is bad input; version's errors are returned as they are.
func ParsePeers(items, defs []string, root string, version func(string) (string, error)) ([]PeerSpec, error) {
	defined := map[string]PeerSpec{}
	var order []string
	for _, d := range defs {
		s, err := parsePeerDef(d)
		if err != nil {
			return nil, err
		}
		if _, dup := defined[s.Label]; dup {
			return nil, fmt.Errorf("%w: -peer %s is defined twice", ErrBadPeer, s.Label)
		}
		defined[s.Label] = s
		order = append(order, s.Label)
	}
	var out []PeerSpec
	add := func(s PeerSpec) {
		if !slices.ContainsFunc(out, func(o PeerSpec) bool { return o.Label == s.Label }) {
			out = append(out, s)
		}
	}
	for _, item := range items {
		s, err := resolvePeer(item, defined, root, version)
		if err != nil {
			return nil, err
		}
		add(s)
	}
	for _, name := range order {
		add(defined[name])
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no peer given", ErrBadPeer)
	}
	return out, nil
}

// Labels are the peers' labels, in order.
func Labels(specs []PeerSpec) []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.Label
	}
	return out
}

// ResultsBlock is the RESULTS.md block, and its heading, that a pairs run of specs goes into: pairs
// of kcp-go releases are one block, pairs with another implementation another.
func ResultsBlock(specs []PeerSpec) (block, title string) {
	if slices.ContainsFunc(specs, func(s PeerSpec) bool { return s.KCPGo == "" }) {
		return "implementations", "## kcp-go and the C reference"
	}
	return "pairs", "### Client × server pairs"
}

// SortReleases orders the kcp-go releases at the head of specs (as a list of versions names them)
// oldest first, and leaves the peers after them in place.
func SortReleases(specs []PeerSpec) {
	n := 0
	for n < len(specs) && specs[n].KCPGo != "" {
		n++
	}
	slices.SortStableFunc(specs[:n], func(a, b PeerSpec) int { return versions.Compare(a.KCPGo, b.KCPGo) })
}

// resolvePeer is one item of -peers.
func resolvePeer(item string, defined map[string]PeerSpec, root string, version func(string) (string, error)) (PeerSpec, error) {
	impl, v, versioned := strings.Cut(item, "@")
	switch {
	case versioned && impl == "kcp-go":
	case !versioned && (versions.IsLocal(item) || looksLikeVersion.MatchString(item)):
		v = item
	case !versioned && Builtins[item] != nil:
		cmd, err := Builtins[item](root)
		return PeerSpec{Label: item, Command: cmd}, err
	case !versioned && defined[item].Label != "":
		return defined[item], nil
	default:
		if versioned {
			item = impl
		}
		return PeerSpec{}, fmt.Errorf("%w: unknown implementation %q: want kcp-go@VERSION (a release such as v5.7.6, alone too, or a kcp-go working tree's path), %s, or a NAME defined with -peer NAME='CMD ARGS'",
			ErrBadPeer, item, strings.Join(builtinNames(), ", "))
	}
	nv, err := version(v)
	if err != nil {
		return PeerSpec{}, err
	}
	return PeerSpec{Label: nv, KCPGo: nv}, nil
}
