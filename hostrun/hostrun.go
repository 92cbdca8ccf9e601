// Package hostrun runs pair experiments with each peer on a host of its own: the server's `kcplab
// peer` in one network namespace and the client's in another, joined by a veth pair (hosts.Veth), so
// that every datagram crosses the kernel's IP path between two network stacks, not loopback. The
// coordinator (this process) starts each peer with `ip netns exec`, tells it the address to bind,
// measures its clock (peer.MeasureClock) and corrects its times before it assembles each trace; each
// peer records its own socket's datagrams. The same experiments run with both peers on loopback give
// the comparison (Compare).
package hostrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"kcplab/harness"
	"kcplab/hosts"
	"kcplab/peer"
	"kcplab/report"
)

// Placement is where a pair's two peers run.
type Placement string

// The placements: both peers on this host's loopback, or each in a namespace of its own over veth.
const (
	Loopback Placement = "loopback"
	Veth     Placement = "veth"
)

// Placements are the placements Run knows, in the order a comparison shows them.
var Placements = []Placement{Loopback, Veth}

// ErrPlacement is the name of no placement.
var ErrPlacement = errors.New("unknown placement")

// ParsePlacements reads a list of placements' names: at least one, each a placement's.
func ParsePlacements(names []string) ([]Placement, error) {
	var ps []Placement
	for _, s := range names {
		i := slices.IndexFunc(Placements, func(p Placement) bool { return string(p) == s })
		if i < 0 {
			return nil, fmt.Errorf("%w %q (want %s)", ErrPlacement, s, strings.Join(placementNames(), " or "))
		}
		ps = append(ps, Placements[i])
	}
	if len(ps) == 0 {
		return nil, errors.New("no placement given")
	}
	return ps, nil
}

func placementNames() []string {
	out := make([]string, len(Placements))
	for i, p := range Placements {
		out[i] = string(p)
	}
	return out
}

// Config is what Run runs and where it writes.
type Config struct {
	Experiments []*harness.Experiment
	Trials      int    // per experiment (0: each experiment's default)
	Parallel    int    // trials at once (0: harness.DefaultParallel)
	Out         string // DIR: DIR/PLACEMENT/ID/summary.json, the trials' pcapng, the peers' stderr
	// PeerCommand is a peer's argv (default: this executable's `peer`); PeerEnv is added to its
	// environment.
	PeerCommand []string
	PeerEnv     []string
	Log         func(format string, args ...any) // progress lines (nil: none)
}

// Available reports why a placement cannot run here (nil when it can): veth needs root and ip.
func Available(p Placement) error {
	if p != Veth {
		return nil
	}
	if err := hosts.Available(); err != nil {
		return err
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("the peers start through `ip netns exec`: %w (Debian: apt-get install iproute2)", err)
	}
	return nil
}

// Dir is where Run writes a placement's runs under out.
func Dir(out string, p Placement) string { return filepath.Join(out, string(p)) }

// ErrUnavailable wraps RunAll's error when a placement cannot run here (Available says why).
var ErrUnavailable = errors.New("placement unavailable")

// RunAll runs every experiment of cfg in each placement of ps (Run), once each can run here: it runs
// nothing when one cannot, and its error wraps ErrUnavailable.
func RunAll(ctx context.Context, cfg Config, ps []Placement) error {
	for _, p := range ps {
		if err := Available(p); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrUnavailable, p, err)
		}
	}
	for _, p := range ps {
		if _, err := Run(ctx, cfg, p); err != nil {
			return err
		}
	}
	return nil
}

// Run runs every experiment of cfg with its server and client in two peer processes placed as p,
// writes each run's summary.json (the peers' hosts, bind addresses and clock offsets in server_peer
// and client_peer) and returns the summaries' paths by experiment. Everything it started (peer
// processes, namespaces) is gone when it returns, also when ctx ends it; a namespace left by a run
// that was killed is swept first.
func Run(ctx context.Context, cfg Config, p Placement) (paths map[string]string, err error) {
	if err := Available(p); err != nil {
		return nil, err
	}
	dir := Dir(cfg.Out, p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var srvNS, cliNS *hosts.Namespace
	if p == Veth {
		if gone, err := hosts.Sweep(); err != nil {
			cfg.logf("sweeping namespaces of killed runs: %v\n", err)
		} else if len(gone) > 0 {
			cfg.logf("swept %d namespace(s) of killed runs: %s\n", len(gone), strings.Join(gone, " "))
		}
		v, err := hosts.NewVeth()
		if err != nil {
			return nil, err
		}
		defer func() { err = errors.Join(err, v.Close()) }()
		srvNS, cliNS = v.Server, v.Client
	}
	srv, err := cfg.startPeer(dir, "server", srvNS, hosts.VethServerAddr.String())
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, closePeer("server", srv)) }()
	cli, err := cfg.startPeer(dir, "client", cliNS, hosts.VethClientAddr.String())
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, closePeer("client", cli)) }()

	paths = map[string]string{}
	for _, e := range cfg.Experiments {
		res, err := peer.RunPair(ctx, e, harness.RunOptions{Trials: cfg.Trials, Parallel: cfg.Parallel, Discover: true, OutDir: dir}, srv, cli)
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", e.ID, p, err)
		}
		path, err := peer.PairSummary(res, srv, cli).Write(filepath.Join(dir, e.ID))
		if err != nil {
			return nil, err
		}
		paths[e.ID] = path
		cfg.logf("%s on %s: %d trials, %d failed; server clock %v, client clock %v\n", e.ID, p, len(res.Trials), len(res.Failed()), srv.Clock(), cli.Clock())
	}
	return paths, nil
}

// startPeer starts the peer of role, in ns when it is not nil (binding to addr there), its stderr in
// DIR/peer-ROLE.log.
func (cfg Config) startPeer(dir, role string, ns *hosts.Namespace, addr string) (*peer.Peer, error) {
	argv := cfg.PeerCommand
	if len(argv) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("the peer's command: %w", err)
		}
		argv = []string{exe, "peer"}
	}
	if ns != nil {
		argv = ns.Exec(argv...)
	}
	logPath := filepath.Join(dir, "peer-"+role+".log")
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer log.Close() // the process has its own
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = log
	if len(cfg.PeerEnv) > 0 {
		cmd.Env = append(os.Environ(), cfg.PeerEnv...)
	}
	p, err := peer.StartPeer(cmd)
	if err != nil {
		return nil, fmt.Errorf("%s peer: %w (its stderr is in %s)", role, err, logPath)
	}
	if ns != nil {
		p.Host, p.Bind = ns.Name, addr
	}
	return p, nil
}

// closePeer ends a peer process, naming it in the error.
func closePeer(role string, p *peer.Peer) error {
	if err := p.Close(); err != nil {
		return fmt.Errorf("%s peer: %w", role, err)
	}
	return nil
}

func (cfg Config) logf(format string, args ...any) {
	if cfg.Log != nil {
		cfg.Log(format, args...)
	}
}

// Comparison is the runs of experiments in several placements, read back from their summaries.
type Comparison struct {
	Matrix *report.Matrix // "versions": the placements
	// Peers are each run's server and client peers as its summary names them (hosts, bind
	// addresses, clocks), by placement and experiment.
	Peers map[string]map[string][2]*harness.PeerIdent
}

// Unread is the first run whose summary Compare could not read, as an error (nil when it read all).
func (c *Comparison) Unread() error {
	for _, e := range c.Matrix.Experiments {
		for _, p := range c.Matrix.Versions {
			if vc := e.Versions[p]; vc != nil && vc.Error != "" {
				return errors.New(vc.Error)
			}
		}
	}
	return nil
}

// Compare reads the summaries under out of the experiments es run in each placement of ps. A missing
// or unreadable summary is that run's error in its cell.
func Compare(out string, ps []Placement, es []*harness.Experiment) *Comparison {
	c := &Comparison{Matrix: &report.Matrix{}, Peers: map[string]map[string][2]*harness.PeerIdent{}}
	for _, p := range ps {
		c.Matrix.Versions = append(c.Matrix.Versions, string(p))
		c.Peers[string(p)] = map[string][2]*harness.PeerIdent{}
	}
	for _, e := range es {
		me := report.MatrixExperiment{ID: e.ID, Title: e.Title, Versions: map[string]*report.VersionCounts{}, Descriptions: map[string]string{}}
		for _, cl := range e.Classes {
			me.Classes = append(me.Classes, cl.Name)
			me.Descriptions[cl.Name] = cl.Description
		}
		for _, p := range ps {
			path := filepath.Join(Dir(out, p), e.ID, "summary.json")
			s, err := readSummary(path)
			if err != nil {
				me.Versions[string(p)] = &report.VersionCounts{Error: err.Error(), Summary: path}
				continue
			}
			me.Versions[string(p)] = report.CountsOf(s, path)
			c.Peers[string(p)][e.ID] = [2]*harness.PeerIdent{s.ServerPeer, s.ClientPeer}
			if c.Matrix.Trials == 0 || len(s.Trials) > c.Matrix.Trials {
				c.Matrix.Trials = len(s.Trials)
			}
		}
		c.Matrix.Experiments = append(c.Matrix.Experiments, me)
	}
	return c
}

// readSummary reads a summary.json.
func readSummary(path string) (*harness.Summary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s harness.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}
