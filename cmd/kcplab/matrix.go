package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"kcplab/experiments"
	"kcplab/harness"
	"kcplab/internal/progress"
	"kcplab/matrix"
	"kcplab/report"
	"kcplab/versions"
)

// Unwrap gives errors.Is and errors.As the error an exit status carries.
func (e *exitError) Unwrap() error { return e.err }

// matrixFlags are the flags shared by matrix and bisect, and the runner they set up.
type matrixFlags struct {
	r       matrix.Runner
	builder versions.Builder
	verbose bool
	stdout  io.Writer
	steps   *progress.Steps // two steps per version (build, run)
}

// newMatrixFlags registers the flags shared by matrix and bisect.
func newMatrixFlags(fs *flag.FlagSet, stdout io.Writer, defaultOut string) *matrixFlags {
	m := &matrixFlags{stdout: stdout, steps: progress.NewSteps(stdout, nil, 0)}
	intVar(fs, &m.r.Trials, "trials", 0, 0, 100000, "trials per experiment and version (0: each experiment's default)")
	intVar(fs, &m.r.Parallel, "parallel", harness.DefaultParallel, 1, 64, "trials running at once (in each version's process)")
	fs.StringVar(&m.r.Out, "out", defaultOut, "directory for DIR/VERSION/ID/summary.json and trial-NNN.pcapng")
	fs.StringVar(&m.builder.CacheDir, "cache", "", "where the per-version binaries are kept (default: the user cache dir's kcplab/)")
	fs.BoolVar(&m.verbose, "v", false, "show each version's run output (always in DIR/VERSION/run.log)")
	return m
}

// check validates the flags and finds the source tree the releases' binaries are built from.
func (m *matrixFlags) check() error {
	root, err := projectRoot()
	if err != nil {
		return err
	}
	m.builder.Root = root
	m.r.Builder = &m.builder
	m.r.Log = func(format string, args ...any) { m.steps.Printf(format, args...) }
	m.r.Step = func(desc string, done bool) { m.steps.Step(desc, done) }
	if m.verbose {
		m.r.Verbose = m.stdout
	}
	return nil
}

// projectRoot finds the kcplab source tree from the working directory up.
func projectRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root, err := versions.FindRoot(dir)
	if errors.Is(err, versions.ErrNoRoot) {
		return "", usageErr("run it inside the kcplab source tree: it builds kcplab against each kcp-go release (no go.mod of module kcplab above the working directory)")
	}
	return root, err
}

// exitStatus gives a release the Go module proxy does not serve, a path that is not a kcp-go tree
// and a peer that did not start exit status 2.
func exitStatus(err error) error {
	var ee *exitError
	if (errors.Is(err, versions.ErrUnknown) || errors.Is(err, matrix.ErrPeerStart)) && !errors.As(err, &ee) {
		return &exitError{code: 2, err: err}
	}
	return err
}

// splitList splits a comma- or space-separated list.
func splitList(list string) []string {
	return strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' })
}

// parseVersions resolves a comma- or space-separated list of versions (versions.Builder.ResolveList).
func parseVersions(ctx context.Context, b *versions.Builder, list string) ([]string, error) {
	vs, err := b.ResolveList(ctx, splitList(list))
	if err == nil && len(vs) == 0 {
		return nil, usageErr("-versions: no version given")
	}
	return vs, versionErr("-versions", err)
}

// versionErr makes a version that kcplab cannot build (versions.ErrUnknown) bad input of flag.
func versionErr(flag string, err error) error {
	if errors.Is(err, versions.ErrUnknown) {
		return usageErr("%s: %v", flag, err)
	}
	return err
}

// parseVersion resolves one version of flag (versions.Builder.Resolve).
func parseVersion(ctx context.Context, b *versions.Builder, flag, s string) (string, error) {
	v, err := b.Resolve(ctx, s)
	return v, versionErr(flag, err)
}

// peerDefs is -peer, repeatable: NAME='CMD ARGS'.
type peerDefs []string

func (d *peerDefs) String() string     { return strings.Join(*d, " ") }
func (d *peerDefs) Set(s string) error { *d = append(*d, s); return nil }

// pairPeers resolves the peers of -pairs: -peers when given, else the kcp-go releases of -versions,
// oldest first; with every -peer added after them.
func (m *matrixFlags) pairPeers(ctx context.Context, peers, list *string, defs peerDefs, set map[string]bool) ([]matrix.PeerSpec, error) {
	if set["peers"] {
		return parsePeers(ctx, &m.builder, "-peers", splitList(*peers), defs)
	}
	specs, err := parsePeers(ctx, &m.builder, "-versions", splitList(*list), defs)
	n := 0 // the releases come first, as -versions names them
	for n < len(specs) && specs[n].KCPGo != "" {
		n++
	}
	slices.SortStableFunc(specs[:n], func(a, b matrix.PeerSpec) int { return versions.Compare(a.KCPGo, b.KCPGo) })
	return specs, err
}

// parsePeers resolves peers named by flag (matrix.ParsePeers), each version checked (parseVersion).
func parsePeers(ctx context.Context, b *versions.Builder, flag string, items, defs []string) ([]matrix.PeerSpec, error) {
	specs, err := matrix.ParsePeers(items, defs, b.Root, func(s string) (string, error) { return parseVersion(ctx, b, flag, s) })
	if errors.Is(err, matrix.ErrBadPeer) {
		return nil, usageErr("%v", err)
	}
	return specs, err
}

// selectExperiments resolves ids (experiments.SelectAll); an unknown id is bad input.
func selectExperiments(ids []string) ([]*harness.Experiment, error) {
	es, err := experiments.SelectAll(ids)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	return es, nil
}

// DefaultPairIDs are the experiments `kcplab matrix -pairs` runs when none is named.
var DefaultPairIDs = []string{"p001", "p003"}

// DefaultPairTrials is the trials per experiment and pair unless -trials says otherwise.
const DefaultPairTrials = 20

func runMatrix(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	m := newMatrixFlags(fs, stdout, filepath.Join("out", "matrix"))
	list := fs.String("versions", strings.Join(versions.Defaults, ","), "kcp-go versions, comma-separated (seed = "+versions.SeedVersion+"; any release the Go module proxy serves)")
	results := fs.String("results", "", "also write the matrix section into this RESULTS.md, with one chart per experiment beside it under charts/")
	pairs := fs.Bool("pairs", false, "run each experiment (default: "+strings.Join(DefaultPairIDs, " ")+") with the server in one peer and the client in another, over every pair, each peer a process; writes DIR/pairs/")
	peers := fs.String("peers", "", "with -pairs, instead of -versions: the peers, comma-separated: kcp-go@VERSION (a release, alone too, or a kcp-go working tree's path), ikcp (the C reference: peers/ikcp, built by peers/ikcp/build.sh), or a NAME of -peer")
	var defs peerDefs
	fs.BoolVar(&m.r.Across, "across", false, "with -pairs: only the pairs with a peer that is not kcp-go (kcp-go against another implementation, both ways, and that implementation against itself)")
	fs.Var(&defs, "peer", "with -pairs: NAME='CMD ARGS' adds a peer of your own, a command that speaks the peer protocol (peer/peer.go), split at spaces; repeatable")
	var sf shardFlags
	sf.register(fs, false)
	fs.Uint64Var(&m.r.Seed, "seed", 0, "the link seed of every version's run: trial n uses seed+n-1 (0: random; with -shard, one derived from the settings, the same in every shard)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if m.r.Shard, err = sf.resolve(); err != nil {
		return err
	}
	m.r.Block = sf.block
	switch {
	case *pairs && m.r.Shard.Split():
		return usageErr("-shard splits the versions matrix, not -pairs")
	case *results != "" && m.r.Shard.Split():
		return usageErr("-results with -shard: a shard holds part of the counts; give -results to kcplab merge")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case !*pairs && set["across"]:
		return usageErr("-across picks among the pairs of -pairs: add -pairs")
	case !*pairs && (set["peers"] || len(defs) > 0):
		return usageErr("-peers and -peer name the peers of -pairs: add -pairs")
	case set["peers"] && set["versions"]:
		return usageErr("-peers and -versions both name the peers of -pairs: give one (a kcp-go release in -peers: kcp-go@VERSION)")
	}
	if err := m.check(); err != nil {
		return err
	}
	if *pairs && len(pos) == 0 {
		pos = DefaultPairIDs
	}
	if *pairs && m.r.Trials == 0 {
		m.r.Trials = DefaultPairTrials
	}
	if m.r.Experiments, err = selectExperiments(pos); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *pairs {
		specs, err := m.pairPeers(ctx, peers, list, defs, set)
		if err != nil {
			return err
		}
		return m.runPairs(ctx, specs, *results)
	}
	vs, err := parseVersions(ctx, &m.builder, *list)
	if err != nil {
		return err
	}
	start := time.Now()
	m.steps = progress.NewSteps(stdout, stderr, 2*len(vs))
	mx, err := m.r.Matrix(ctx, vs)
	if err != nil {
		return exitStatus(err)
	}
	m.steps.Finish()
	report.WriteMatrixText(stdout, mx)
	if m.r.Shard.Split() {
		fmt.Fprintf(stdout, "shard %s of %d version(s) in %.0fs, seed %d; wrote %s and %s: merge the parts with kcplab merge -out DIR PARTDIR...\n",
			m.r.Shard, len(vs), time.Since(start).Seconds(), m.r.Seed, m.r.MatrixPath(), filepath.Join(m.r.Out, matrix.PartFile))
		return nil
	}
	if _, err := report.Charts(mx, filepath.Join(m.r.Out, "charts"), m.r.Out, "matrix"); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d version(s) in %.0fs; wrote %s and charts under %s\n", len(vs), time.Since(start).Seconds(), m.r.MatrixPath(), filepath.Join(m.r.Out, "charts"))
	if *results != "" {
		if err := report.WriteMatrixResults(*results, mx); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote the matrix section of %s\n", *results)
	}
	return nil
}

// runPairs runs the pairs of specs, prints their tables and writes the results.
func (m *matrixFlags) runPairs(ctx context.Context, specs []matrix.PeerSpec, results string) error {
	start := time.Now()
	mx, err := m.r.Pairs(ctx, specs)
	if err != nil {
		return exitStatus(err)
	}
	labels := make([]string, len(specs))
	for i, s := range specs {
		labels[i] = s.Label
	}
	report.WritePairsText(m.stdout, mx, labels)
	fmt.Fprintf(m.stdout, "%d pair(s) of %d peer(s) in %.0fs; wrote %s and pairs.md\n", len(mx.Versions), len(specs), time.Since(start).Seconds(), m.r.PairsPath())
	if results != "" {
		// Pairs of kcp-go releases are one block; pairs with another implementation are another.
		block, title := "pairs", "### Client × server pairs"
		for _, s := range specs {
			if s.KCPGo == "" {
				block, title = "implementations", "## kcp-go and the C reference"
			}
		}
		if err := report.WritePairsResults(results, mx, labels, block, title); err != nil {
			return err
		}
		fmt.Fprintf(m.stdout, "wrote the %s section of %s\n", block, results)
	}
	if failed := mx.Failed(); failed > 0 {
		return failErr("%d trial(s) or run(s) failed", failed)
	}
	return nil
}

func runBisect(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	m := newMatrixFlags(fs, stdout, filepath.Join("out", "bisect"))
	from := fs.String("from", "", "the older kcp-go version (required; seed = "+versions.SeedVersion+")")
	to := fs.String("to", "", "the newer kcp-go version (required)")
	// Flags may come before or after ID CLASS.
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usageErr("want ID CLASS (the class, or %q for trials that fit no class), got %d argument(s)", report.FailedColumn, len(pos))
	}
	if *from == "" || *to == "" {
		return usageErr("-from and -to are required, e.g. -from v5.6.72 -to v5.7.6")
	}
	if err := m.check(); err != nil {
		return err
	}
	es, err := experiments.Select(pos[0])
	if err != nil {
		return usageErr("%v", err)
	}
	if len(es) != 1 {
		return usageErr("%s runs over %d links: name one, e.g. %s", pos[0], len(es), es[0].ID)
	}
	e := es[0]
	class, err := matrix.BisectClass(e, pos[1])
	if err != nil {
		return usageErr("%v", err)
	}
	m.r.Experiments = es
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	first, err := parseVersion(ctx, &m.builder, "-from", *from)
	if err != nil {
		return err
	}
	last, err := parseVersion(ctx, &m.builder, "-to", *to)
	if err != nil {
		return err
	}
	rel, err := matrix.BisectRange(first, last)
	if err != nil {
		return usageErr("%v", err)
	}
	fmt.Fprintf(stdout, "bisect %s %q over %d releases %s..%s\n", e.ID, class, len(rel), rel[0], rel[len(rel)-1])
	m.steps = progress.NewSteps(stdout, stderr, 2*matrix.BisectRuns(len(rel)))
	defer m.steps.Finish()
	b, err := m.r.Bisect(ctx, e.ID, class, rel)
	switch {
	case err != nil:
		return exitStatus(err)
	case !b.Changed:
		m.steps.Printf("the share of %q with %s is within the 95%% intervals of %s's: no change to bisect (more -trials narrow the intervals)\n", class, rel[len(rel)-1], rel[0])
	case versions.IsLocal(first):
		m.steps.Printf("first release, going back from %s, whose share of %q differs from the tree's beyond the 95%% intervals: %s (the one before it on the way, %s, does not)\n",
			first, class, b.First, b.Before)
	default:
		m.steps.Printf("first release whose share of %q differs from %s's beyond the 95%% intervals: %s (the release before it, %s, does not)\n",
			class, rel[0], b.First, b.Before)
	}
	return nil
}
