package versions

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"

	"kcplab/internal/kcpgo"
)

// Modfile returns the project's go.mod (goMod) changed to link kcp-go at version (normalized): the
// require of ModulePath set to version, or, for a release served only under SeedPath, left at its
// version as a placeholder and replaced by SeedPath at version. Other requirements are kept, and any
// replace of ModulePath is dropped; `go mod tidy -modfile` then adds what the release needs.
func Modfile(goMod []byte, version string) ([]byte, error) {
	if _, err := Normalize(version); err != nil {
		return nil, err
	}
	f, err := kcpGoModfile(goMod)
	if err != nil {
		return nil, err
	}
	if Path(version) == ModulePath {
		err = f.AddRequire(ModulePath, version)
	} else {
		err = f.AddReplace(ModulePath, "", SeedPath, version)
	}
	if err != nil {
		return nil, err
	}
	return f.Format()
}

// kcpGoModfile parses goMod, checks that it requires ModulePath and drops its replaces of ModulePath.
func kcpGoModfile(goMod []byte) (*modfile.File, error) {
	f, err := modfile.Parse("go.mod", goMod, nil)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(f.Require, func(r *modfile.Require) bool { return r.Mod.Path == ModulePath }) {
		return nil, fmt.Errorf("go.mod does not require %s", ModulePath)
	}
	for _, r := range slices.Clone(f.Replace) {
		if r.Old.Path == ModulePath {
			if err := f.DropReplace(r.Old.Path, r.Old.Version); err != nil {
				return nil, err
			}
		}
	}
	f.Cleanup()
	return f, nil
}

// SourceHash hashes the project's Go sources under root (every .go file but tests, embedded text and
// go.mod/go.sum), so that a change of the code rebuilds the binaries.
func SourceHash(root string) (string, error) {
	h, err := hashFiles(root, func(name string) bool {
		return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "out" || name == "node_modules"
	}, func(name string) bool {
		return (strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go")) || name == "go.mod" || name == "go.sum" || name == "releases.txt"
	})
	return h[:min(len(h), 16)], err
}

// hashFiles hashes, by path and content, the regular files under root whose name keep accepts,
// leaving out the directories (below root) whose name skipDir accepts.
func hashFiles(root string, skipDir, keep func(name string) bool) (string, error) {
	h := sha256.New()
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir():
			if path != root && skipDir(d.Name()) {
				return filepath.SkipDir
			}
		case d.Type().IsRegular() && keep(d.Name()):
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(root, f)
		fmt.Fprintf(h, "%s %d\n", filepath.ToSlash(rel), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ErrNoRoot is FindRoot's error when no directory above holds kcplab's go.mod.
var ErrNoRoot = errors.New("no go.mod of module kcplab")

// NewBuilder is the Builder of the kcplab source tree the working directory is in (FindRoot), its
// binaries kept in cache (empty: the default).
func NewBuilder(cache string) (*Builder, error) {
	dir, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	root, err := FindRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: run it inside the kcplab source tree, which it builds against each kcp-go release", err)
	}
	return &Builder{Root: root, CacheDir: cache}, nil
}

// FindRoot returns the kcplab source tree a Builder builds from: the first directory from dir up
// whose go.mod declares module kcplab.
func FindRoot(dir string) (string, error) {
	start := dir
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte("module kcplab\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w in %s or above it", ErrNoRoot, start)
		}
		dir = parent
	}
}

// Builder builds kcplab against kcp-go releases and caches the binaries.
type Builder struct {
	Root     string    // the project's root (holds go.mod)
	CacheDir string    // where binaries are kept; default os.UserCacheDir()/kcplab
	Go       string    // the go command; default "go"
	Log      io.Writer // the go commands' output (nil: discarded unless they fail)

	hash string // SourceHash(Root), taken once: every binary of one Builder is of the same sources
}

// Binary is one built kcplab.
type Binary struct {
	Version string   // kcp-go module version linked, e.g. "v5.4.20+incompatible", or a working tree's path
	Path    string   // the executable
	Tags    []string // build tags used
	Cached  bool     // true when it was already built
	// KCPGo is how the binary names its kcp-go (summary.json's kcp_go, the peer's hello): a
	// working tree's Tree.Name; empty for a release, which it names by Version.
	KCPGo string
}

// Name is how the binary names its kcp-go: KCPGo, else Version.
func (b *Binary) Name() string {
	if b.KCPGo != "" {
		return b.KCPGo
	}
	return b.Version
}

func (b *Builder) goCmd() string {
	if b.Go != "" {
		return b.Go
	}
	return "go"
}

func (b *Builder) cacheDir() (string, error) {
	if b.CacheDir != "" {
		return b.CacheDir, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "kcplab"), nil
}

// Dir returns the cache directory of version's binary for the sources as they were at the Builder's
// first use (an edit during a long matrix run does not mix binaries of two states of the code; the
// binary itself is built from the sources of the moment, as go build sees them). A working tree's
// binary is kept by the tree's state as it is now (ReadTree).
func (b *Builder) Dir(version string) (string, error) {
	v, err := Normalize(version)
	if err != nil {
		return "", err
	}
	var tree *Tree
	if IsLocal(v) {
		if tree, err = ReadTree(context.Background(), v); err != nil {
			return "", err
		}
	}
	return b.dir(v, tree)
}

// dir is Dir of the normalized version v, read as tree when it is a working tree.
func (b *Builder) dir(v string, tree *Tree) (string, error) {
	cache, err := b.cacheDir()
	if err != nil {
		return "", err
	}
	if b.hash == "" {
		if b.hash, err = SourceHash(b.Root); err != nil {
			return "", err
		}
	}
	name := v
	if tree != nil {
		sum := sha256.Sum256([]byte(tree.Abs + "\n" + tree.Name()))
		name = FileName(v) + "-" + hex.EncodeToString(sum[:6])
	}
	return filepath.Join(cache, name+"-"+b.hash), nil
}

// Build returns kcplab built against kcp-go version ("seed", "v5.6.1", ..., or a working tree's path,
// IsLocal), building it unless the cache holds one for the current sources (and, for a tree, its
// current files and VCS state). An unknown or unserved version, or a path that is not a kcp-go tree,
// is an error wrapping ErrUnknown.
func (b *Builder) Build(ctx context.Context, version string) (*Binary, error) {
	v, err := Normalize(version)
	if err != nil {
		return nil, err
	}
	var tree *Tree
	if IsLocal(v) {
		if tree, err = ReadTree(ctx, v); err != nil {
			return nil, err
		}
	}
	dir, err := b.dir(v, tree)
	if err != nil {
		return nil, err
	}
	out := &Binary{Version: v, Path: filepath.Join(dir, "kcplab")}
	if tree != nil {
		out.KCPGo = tree.Name()
	}
	if tags, err := os.ReadFile(filepath.Join(dir, "tags")); err == nil {
		if _, err := os.Stat(out.Path); err == nil {
			out.Tags, out.Cached = strings.Fields(string(tags)), true
			return out, nil
		}
	}
	src, mod, err := b.source(ctx, v, tree)
	if err != nil {
		return nil, err
	}
	if out.Tags, err = Tags(src); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	modPath := filepath.Join(dir, "go.mod")
	if err := os.WriteFile(modPath, mod, 0o644); err != nil {
		return nil, err
	}
	if sum, err := os.ReadFile(filepath.Join(b.Root, "go.sum")); err == nil {
		if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
			return nil, err
		}
	}
	if _, err := b.run(ctx, "mod", "tidy", "-modfile="+modPath); err != nil {
		return nil, fmt.Errorf("go mod tidy for kcp-go %s: %w", v, err)
	}
	tmp := out.Path + ".tmp"
	args := []string{"build", "-modfile=" + modPath, "-o", tmp}
	if len(out.Tags) > 0 {
		args = append(args, "-tags", strings.Join(out.Tags, ","))
	}
	want := v
	if tree != nil {
		want = tree.Abs
		flag, err := treeLDFlags(tree.Name())
		if err != nil {
			return nil, err
		}
		args = append(args, flag)
	}
	if _, err := b.run(ctx, append(args, "./cmd/kcplab")...); err != nil {
		return nil, fmt.Errorf("building kcplab against kcp-go %s: %w", v, err)
	}
	if got, err := LinkedVersion(tmp); err != nil {
		return nil, err
	} else if got != want {
		return nil, fmt.Errorf("built against kcp-go %s, but the binary links %s", want, got)
	}
	if err := os.Rename(tmp, out.Path); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "tags"), []byte(strings.Join(out.Tags, " ")+"\n"), 0o644); err != nil {
		return nil, err
	}
	return out, nil
}

// source returns the kcp-go source directory of v (the module cache's, or the working tree) and the
// go.mod that links it.
func (b *Builder) source(ctx context.Context, v string, tree *Tree) (src string, mod []byte, err error) {
	goMod, err := os.ReadFile(filepath.Join(b.Root, "go.mod"))
	if err != nil {
		return "", nil, err
	}
	if tree != nil {
		mod, err = LocalModfile(goMod, tree.Abs)
		return tree.Abs, mod, err
	}
	if src, err = b.Download(ctx, v); err != nil {
		return "", nil, err
	}
	mod, err = Modfile(goMod, v)
	return src, mod, err
}

// treeLDFlags is the -ldflags argument that makes a binary name its kcp-go as name
// (kcpgo.Version): the go command splits -ldflags at spaces, so name is quoted.
func treeLDFlags(name string) (string, error) {
	x := kcpgo.TreeVar + "=" + name
	for _, q := range []string{"'", `"`} {
		if !strings.Contains(name, q) {
			return "-ldflags=-X " + q + x + q, nil
		}
	}
	return "", fmt.Errorf("%w %s: a path with both kinds of quotes cannot be named in the binary", ErrUnknown, name)
}

// run runs the go command in the project's root and returns its output; on failure the error
// carries the output's tail.
func (b *Builder) run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, b.goCmd(), args...)
	cmd.Dir = b.Root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if b.Log != nil {
		cmd.Stdout, cmd.Stderr = io.MultiWriter(&out, b.Log), io.MultiWriter(&out, b.Log)
	}
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, tail(out.String(), 2000))
	}
	return out.Bytes(), nil
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// Download fetches kcp-go version into the module cache (`go mod download -json`) and returns its
// source directory. A version the proxy does not serve is an error wrapping ErrUnknown.
func (b *Builder) Download(ctx context.Context, version string) (string, error) {
	v, err := Normalize(version)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, b.goCmd(), "mod", "download", "-json", Path(v)+"@"+v)
	cmd.Dir = os.TempDir() // outside any module: the download does not depend on the project's go.mod
	out, runErr := cmd.Output()
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		if runErr != nil {
			return "", fmt.Errorf("go mod download %s@%s: %v", Path(v), v, runErr)
		}
		return "", err
	}
	if info.Error != "" {
		return "", fmt.Errorf("%w %s: the Go module proxy does not serve %s@%s: %s", ErrUnknown, version, Path(v), v, info.Error)
	}
	if info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: no source directory", Path(v), v)
	}
	return info.Dir, nil
}

// Tags returns the build tags kcplab needs for the kcp-go source in dir (kcpgo.TagsFor reads its API).
func Tags(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no Go files in %s", dir)
	}
	var src []byte
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		src = append(append(src, '\n'), b...)
	}
	return kcpgo.TagsFor(src), nil
}

// LinkedVersion reads the kcp-go version linked into a Go binary from its build information (the
// replacement's version when ModulePath is replaced by another module, its directory when it is
// replaced by a working tree).
func LinkedVersion(bin string) (string, error) {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return "", err
	}
	for _, m := range bi.Deps {
		if m.Path != ModulePath {
			continue
		}
		if m.Replace != nil && (m.Replace.Version == "" || m.Replace.Version == "(devel)") {
			return m.Replace.Path, nil
		}
		if m.Replace != nil {
			return m.Replace.Version, nil
		}
		return m.Version, nil
	}
	return "", errors.New(bin + " links no kcp-go")
}

// Resolve normalizes version s and checks it before anything runs: a release is downloaded (from
// the module cache when it is there), so that one the Go module proxy does not serve is an error
// wrapping ErrUnknown, as is a working tree's path that does not hold kcp-go's go.mod.
func (b *Builder) Resolve(ctx context.Context, s string) (string, error) {
	v, err := Normalize(s)
	if err == nil {
		if IsLocal(v) {
			_, err = ReadTree(ctx, v)
		} else {
			// Even a release of the compiled-in list may be missing from the proxy (v5.6.6, v5.6.23).
			_, err = b.Download(ctx, v)
		}
	}
	return v, err
}

// ResolveList resolves each of list (Resolve), without repeats, oldest first and working trees last.
// An empty list is an error wrapping ErrUnknown.
func (b *Builder) ResolveList(ctx context.Context, list []string) ([]string, error) {
	if len(list) == 0 {
		return nil, fmt.Errorf("%w: no version given", ErrUnknown)
	}
	var out []string
	for _, s := range list {
		v, err := b.Resolve(ctx, s)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return Compare(out[i], out[j]) < 0 })
	return out, nil
}
