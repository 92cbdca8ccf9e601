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
	"strconv"
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
	Trials      int // per experiment and run (0: each experiment's default)
	// Runs is how many times each placement runs (0: once), each run with peer processes (and
	// namespaces) of its own: the share of a class a race decides moves from run to run.
	Runs     int
	Parallel int    // trials at once (0: harness.DefaultParallel)
	Out      string // DIR: DIR/PLACEMENT/run-N/ID/summary.json, the trials' pcapng, the peers' stderr
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

// Dir is where a placement's runs are under out.
func Dir(out string, p Placement) string { return filepath.Join(out, string(p)) }

// RunDir is where Run writes run n (from 1) of placement p under out.
func RunDir(out string, p Placement, n int) string {
	return filepath.Join(Dir(out, p), fmt.Sprintf("run-%d", n))
}

// ErrUnavailable wraps RunAll's error when a placement cannot run here (Available says why).
var ErrUnavailable = errors.New("placement unavailable")

// RunAll runs every experiment of cfg in each placement of ps, cfg.Runs times (Run), once each can
// run here: it runs nothing when one cannot, and its error wraps ErrUnavailable. The placements take
// turns, in ps's order in odd runs and backwards in even ones, so that a drift of the machine over the
// session weighs on each alike.
func RunAll(ctx context.Context, cfg Config, ps []Placement) error {
	for _, p := range ps {
		if err := Available(p); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrUnavailable, p, err)
		}
	}
	for n := 1; n <= max(cfg.Runs, 1); n++ {
		order := slices.Clone(ps)
		if n%2 == 0 {
			slices.Reverse(order)
		}
		for _, p := range order {
			if _, err := Run(ctx, cfg, p, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// Run makes run n of every experiment of cfg with its server and client in two peer processes placed
// as p, writes each experiment's summary.json under RunDir (the peers' hosts, bind addresses and
// clock offsets in server_peer and client_peer) and returns the summaries' paths by experiment.
// Everything it started (peer processes, namespaces) is gone when it returns, also when ctx ends it;
// a namespace left by a run that was killed is swept first.
func Run(ctx context.Context, cfg Config, p Placement, n int) (paths map[string]string, err error) {
	if err := Available(p); err != nil {
		return nil, err
	}
	dir := RunDir(cfg.Out, p, n)
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
		cfg.logf("%s on %s, run %d: %d trials, %d failed; server clock %v, client clock %v\n", e.ID, p, n, len(res.Trials), len(res.Failed()), srv.Clock(), cli.Clock())
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

// Compare reads the summaries under out of the experiments es run in each placement of ps: runs 1 to
// runs of each (RunDir), or every run there is when runs is 0. A placement without those runs, or a
// missing or unreadable summary, is the error of that placement's cell.
func Compare(out string, ps []Placement, es []*harness.Experiment, runs int) *report.HostRuns {
	c := &report.HostRuns{Pooled: &report.Matrix{}, Runs: map[string][]*report.Matrix{}, Peers: map[string]map[string][][2]*harness.PeerIdent{}}
	exps := make([]report.MatrixExperiment, len(es))
	for i, e := range es {
		exps[i] = report.MatrixExperiment{ID: e.ID, Title: e.Title, Versions: map[string]*report.VersionCounts{}, Descriptions: map[string]string{}}
		for _, cl := range e.Classes {
			exps[i].Classes = append(exps[i].Classes, cl.Name)
			exps[i].Descriptions[cl.Name] = cl.Description
		}
	}
	for _, p := range ps {
		name := string(p)
		c.Pooled.Versions = append(c.Pooled.Versions, name)
		c.Peers[name] = map[string][][2]*harness.PeerIdent{}
		ns, err := runsUnder(out, p, runs)
		for i := range exps {
			me := &exps[i]
			if err != nil {
				me.Versions[name] = &report.VersionCounts{Error: err.Error()}
				continue
			}
			me.Versions[name] = readRuns(c, out, p, ns, me)
		}
	}
	c.Pooled.Experiments = exps
	return c
}

// readRuns reads experiment me's summary in each of placement p's runs into c (its runs, peers and
// trials) and returns their counts pooled; a summary it cannot read is the pooled cell's error, and
// then c keeps none of me's runs in p.
func readRuns(c *report.HostRuns, out string, p Placement, runs []int, me *report.MatrixExperiment) *report.VersionCounts {
	pooled := &report.VersionCounts{}
	var sums []*harness.Summary
	var paths []string
	for _, n := range runs {
		path := filepath.Join(RunDir(out, p, n), me.ID, "summary.json")
		s, err := readSummary(path)
		if err != nil {
			return &report.VersionCounts{Error: err.Error(), Summary: path}
		}
		sums, paths = append(sums, s), append(paths, path)
	}
	name := string(p)
	for i, s := range sums {
		vc := report.CountsOf(s, paths[i])
		pooled.Add(vc)
		c.Runs[name] = appendRun(c.Runs[name], i, me, name, vc)
		c.Peers[name][me.ID] = append(c.Peers[name][me.ID], [2]*harness.PeerIdent{s.ServerPeer, s.ClientPeer})
		c.Pooled.Trials = max(c.Pooled.Trials, len(s.Trials))
	}
	pooled.Summary = paths[0]
	return pooled
}

// appendRun adds vc, experiment me's counts in run i (from 0) of placement p, to that run's matrix,
// making it when it is the run's first.
func appendRun(runs []*report.Matrix, i int, me *report.MatrixExperiment, p string, vc *report.VersionCounts) []*report.Matrix {
	for len(runs) <= i {
		runs = append(runs, &report.Matrix{Versions: []string{p}})
	}
	runs[i].Experiments = append(runs[i].Experiments, report.MatrixExperiment{ID: me.ID, Title: me.Title, Classes: me.Classes,
		Descriptions: me.Descriptions, Versions: map[string]*report.VersionCounts{p: vc}})
	return runs
}

// runsUnder lists the runs of placement p under out (run-N) in order, 1, 2, ... with none missing:
// the first want of them, or all when want is 0.
func runsUnder(out string, p Placement, want int) ([]int, error) {
	entries, err := os.ReadDir(Dir(out, p))
	if err != nil {
		return nil, err
	}
	var runs []int
	for _, en := range entries {
		if n, err := strconv.Atoi(strings.TrimPrefix(en.Name(), "run-")); en.IsDir() && strings.HasPrefix(en.Name(), "run-") && err == nil && n > 0 {
			runs = append(runs, n)
		}
	}
	slices.Sort(runs)
	if len(runs) == 0 {
		return nil, fmt.Errorf("%s: no run (run-1, run-2, ...)", Dir(out, p))
	}
	if want == 0 {
		want = len(runs)
	}
	for i := range want {
		if i >= len(runs) || runs[i] != i+1 {
			return nil, fmt.Errorf("%s: run-%d is missing", Dir(out, p), i+1)
		}
	}
	return runs[:want], nil
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
