package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"kcplab/experiments"
	"kcplab/harness"
	"kcplab/internal/cli"
	"kcplab/internal/progress"
	"kcplab/matrix"
	"kcplab/report"
	"kcplab/versions"
)

// matrixFlags are the flags shared by matrix and bisect, and the runner they set up.
type matrixFlags struct {
	r       matrix.Runner
	b       *versions.Builder
	cache   string
	verbose bool
	steps   *progress.Steps // two steps per version (build, run)
}

// newMatrixFlags registers the flags shared by matrix and bisect.
func newMatrixFlags(c *cli.Call, defaultOut string) *matrixFlags {
	m := &matrixFlags{steps: progress.NewSteps(c.Stdout, nil, 0)}
	cli.IntVar(c.Flags, &m.r.Trials, "trials", 0, 0, 100000, "trials per experiment and version (0: each experiment's default)")
	cli.IntVar(c.Flags, &m.r.Parallel, "parallel", harness.DefaultParallel, 1, 64, "trials running at once (in each version's process)")
	c.Flags.StringVar(&m.r.Out, "out", defaultOut, "directory for DIR/VERSION/ID/summary.json and trial-NNN.pcapng")
	c.Flags.StringVar(&m.cache, "cache", "", "where the per-version binaries are kept (default: the user cache dir's kcplab/)")
	c.Flags.BoolVar(&m.verbose, "v", false, "show each version's run output (always in DIR/VERSION/run.log)")
	return m
}

// setUp checks -out, finds the source tree the releases' binaries are built from, and wires the
// runner's output to c's and to m.steps.
func (m *matrixFlags) setUp(c *cli.Call) (err error) {
	if err := cli.OutDir("out", m.r.Out); err != nil {
		return err
	}
	if m.b, err = newBuilder(m.cache); err != nil {
		return err
	}
	m.r.Builder = m.b
	m.r.Log = func(format string, args ...any) { m.steps.Printf(format, args...) }
	m.r.Step = func(desc string, done bool) { m.steps.Step(desc, done) }
	if m.verbose {
		m.r.Verbose = c.Stdout
	}
	return nil
}

// newBuilder is versions.NewBuilder with -cache checked first: a cache it cannot write in is bad
// input, found before any build (default "": the user cache dir's kcplab/).
func newBuilder(cache string) (*versions.Builder, error) {
	if cache != "" {
		if err := cli.OutDir("cache", cache); err != nil {
			return nil, err
		}
	}
	return versions.NewBuilder(cache)
}

// parseVersions resolves a comma- or space-separated list of versions (versions.Builder.ResolveList).
func parseVersions(ctx context.Context, b *versions.Builder, list string) ([]string, error) {
	vs, err := b.ResolveList(ctx, cli.SplitList(list))
	if err != nil {
		return nil, fmt.Errorf("-versions: %w", err)
	}
	return vs, nil
}

// parsePeers resolves the peers items and defs name (matrix.ParsePeers), each version checked.
func parsePeers(ctx context.Context, b *versions.Builder, items, defs []string) ([]matrix.PeerSpec, error) {
	return matrix.ParsePeers(items, defs, b.Root, func(s string) (string, error) { return b.Resolve(ctx, s) })
}

// DefaultPairIDs are the experiments `kcplab matrix -pairs` runs when none is named.
var DefaultPairIDs = []string{"p001", "p003"}

// DefaultPairTrials is the trials per experiment and pair unless -trials says otherwise.
const DefaultPairTrials = 20

func runMatrix(ctx context.Context, c *cli.Call) error {
	m := newMatrixFlags(c, filepath.Join("out", "matrix"))
	list := c.Flags.String("versions", strings.Join(versions.Defaults, ","), "kcp-go versions, comma-separated (seed = "+versions.SeedVersion+"; any release the Go module proxy serves)")
	results := c.Flags.String("results", "", "also write the matrix section into this RESULTS.md, with one chart per experiment beside it under charts/")
	pairs := c.Flags.Bool("pairs", false, "run each experiment (default: "+strings.Join(DefaultPairIDs, " ")+") with the server in one peer and the client in another, over every pair, each peer a process; writes DIR/pairs/")
	peers := c.Flags.String("peers", "", "with -pairs, instead of -versions: the peers, comma-separated: kcp-go@VERSION (a release, alone too, or a kcp-go working tree's path), ikcp (the C reference: peers/ikcp, built by peers/ikcp/build.sh), or a NAME of -peer")
	var defs cli.Repeated
	c.Flags.BoolVar(&m.r.Across, "across", false, "with -pairs: only the pairs with a peer that is not kcp-go (kcp-go against another implementation, both ways, and that implementation against itself)")
	c.Flags.Var(&defs, "peer", "with -pairs: NAME='CMD ARGS' adds a peer of your own, a command that speaks the peer protocol (peer/peer.go), split at spaces; repeatable")
	var sf shardFlags
	sf.register(c.Flags, false)
	c.Flags.Uint64Var(&m.r.Seed, "seed", 0, "the link seed of every version's run: trial n uses seed+n-1 (0: random; with -shard, one derived from the settings, the same in every shard)")
	pos, err := c.Parse()
	if err != nil {
		return err
	}
	if m.r.Shard, err = sf.resolve(); err != nil {
		return err
	}
	m.r.Block = sf.block
	if err := cli.OutFile("results", *results); err != nil {
		return err
	}
	set := c.Set()
	switch {
	case *pairs && m.r.Shard.Split():
		return cli.Usage("-shard splits the versions matrix, not -pairs")
	case *results != "" && m.r.Shard.Split():
		return cli.Usage("-results with -shard: a shard holds part of the counts; give -results to kcplab merge")
	case !*pairs && set["across"]:
		return cli.Usage("-across picks among the pairs of -pairs: add -pairs")
	case !*pairs && (set["peers"] || len(defs) > 0):
		return cli.Usage("-peers and -peer name the peers of -pairs: add -pairs")
	case set["peers"] && set["versions"]:
		return cli.Usage("-peers and -versions both name the peers of -pairs: give one (a kcp-go release in -peers: kcp-go@VERSION)")
	case *pairs && set["peers"]:
		return m.runPairs(ctx, c, pos, *results, cli.SplitList(*peers), false, defs)
	case *pairs:
		return m.runPairs(ctx, c, pos, *results, cli.SplitList(*list), true, defs)
	}
	if m.r.Experiments, err = experiments.SelectAll(pos); err != nil {
		return err
	}
	if err := m.setUp(c); err != nil {
		return err
	}
	vs, err := parseVersions(ctx, m.b, *list)
	if err != nil {
		return err
	}
	start := time.Now()
	m.steps = progress.NewSteps(c.Stdout, c.Stderr, 2*len(vs))
	mx, err := m.r.Matrix(ctx, vs)
	if err != nil {
		return err
	}
	m.steps.Finish()
	report.WriteMatrixText(c.Stdout, mx)
	if m.r.Shard.Split() {
		fmt.Fprintf(c.Stdout, "shard %s of %d version(s) in %.0fs, seed %d; wrote %s and %s: merge the parts with kcplab merge -out DIR PARTDIR...\n",
			m.r.Shard, len(vs), time.Since(start).Seconds(), m.r.Seed, m.r.MatrixPath(), filepath.Join(m.r.Out, matrix.PartFile))
		return nil
	}
	if _, err := report.Charts(mx, filepath.Join(m.r.Out, "charts"), m.r.Out, "matrix"); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "%d version(s) in %.0fs; wrote %s and charts under %s\n", len(vs), time.Since(start).Seconds(), m.r.MatrixPath(), filepath.Join(m.r.Out, "charts"))
	return writeMatrixResults(c.Stdout, *results, mx)
}

// runPairs runs ids (DefaultPairIDs when none is given) over the pairs of the peers items and defs
// name (items from -versions: releases, put oldest first), prints their tables and writes the results.
func (m *matrixFlags) runPairs(ctx context.Context, c *cli.Call, ids []string, results string, items []string, versionList bool, defs []string) (err error) {
	if len(ids) == 0 {
		ids = DefaultPairIDs
	}
	if m.r.Trials == 0 {
		m.r.Trials = DefaultPairTrials
	}
	if m.r.Experiments, err = experiments.SelectAll(ids); err != nil {
		return err
	}
	if err := m.setUp(c); err != nil {
		return err
	}
	specs, err := parsePeers(ctx, m.b, items, defs)
	if err != nil {
		return err
	}
	if versionList {
		matrix.SortReleases(specs)
	}
	start := time.Now()
	mx, err := m.r.Pairs(ctx, specs)
	if err != nil {
		return err
	}
	labels := matrix.Labels(specs)
	report.WritePairsText(c.Stdout, mx, labels)
	fmt.Fprintf(c.Stdout, "%d pair(s) of %d peer(s) in %.0fs; wrote %s and pairs.md\n", len(mx.Versions), len(specs), time.Since(start).Seconds(), m.r.PairsPath())
	if results != "" {
		block, title := matrix.ResultsBlock(specs)
		if err := report.WritePairsResults(results, mx, labels, block, title); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "wrote the %s section of %s\n", block, results)
	}
	if failed := mx.Failed(); failed > 0 {
		return cli.Fail("%d trial(s) or run(s) failed", failed)
	}
	return nil
}

func runBisect(ctx context.Context, c *cli.Call) error {
	m := newMatrixFlags(c, filepath.Join("out", "bisect"))
	from := c.Flags.String("from", "", "the older kcp-go version (required; seed = "+versions.SeedVersion+")")
	to := c.Flags.String("to", "", "the newer kcp-go version (required)")
	runs := cli.Int(c.Flags, "runs", 1, 1, 20, "runs of each release: with several, a release differs by the test over runs (for a class a race decides, whose share moves from run to run)")
	pos, err := c.Parse()
	switch {
	case err != nil:
		return err
	case len(pos) != 2:
		return cli.Usage("want ID CLASS (the class, or %q for trials that fit no class), got %d argument(s)", report.FailedColumn, len(pos))
	case *from == "" || *to == "":
		return cli.Usage("-from and -to are required, e.g. -from v5.6.72 -to v5.7.6")
	}
	es, err := experiments.Select(pos[0])
	if err != nil {
		return err
	}
	if len(es) != 1 {
		return cli.Usage("%s runs over %d links: name one, e.g. %s", pos[0], len(es), es[0].ID)
	}
	e := es[0]
	class, err := matrix.BisectClass(e, pos[1])
	if err != nil {
		return cli.Usage("%v", err)
	}
	m.r.Experiments = es
	if err := m.setUp(c); err != nil {
		return err
	}
	first, err := m.b.Resolve(ctx, *from)
	if err != nil {
		return fmt.Errorf("-from: %w", err)
	}
	last, err := m.b.Resolve(ctx, *to)
	if err != nil {
		return fmt.Errorf("-to: %w", err)
	}
	rel, err := matrix.BisectRange(first, last)
	if err != nil {
		return cli.Usage("%v", err)
	}
	test := matrix.BisectTest(len(rel), *runs)
	fmt.Fprintf(c.Stdout, "bisect %s %q over %d releases %s..%s, a release differing %s\n", e.ID, class, len(rel), rel[0], rel[len(rel)-1], test)
	m.steps = progress.NewSteps(c.Stdout, c.Stderr, 2*(*runs)*matrix.BisectRuns(len(rel)))
	defer m.steps.Finish()
	b, err := m.r.Bisect(ctx, e.ID, class, rel, *runs)
	switch {
	case err != nil:
		return err
	case !b.Changed:
		m.steps.Printf("the share of %q with %s does not differ from %s's %s: no change to bisect (more -trials or -runs tell smaller changes)\n", class, rel[len(rel)-1], rel[0], test)
	case versions.IsLocal(first):
		m.steps.Printf("first release, going back from %s, whose share of %q differs from the tree's %s: %s (the one before it on the way, %s, does not)\n",
			first, class, test, b.First, b.Before)
	default:
		m.steps.Printf("first release whose share of %q differs from %s's %s: %s (the release before it, %s, does not)\n",
			class, rel[0], test, b.First, b.Before)
	}
	return nil
}
