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
	"regexp"
	"sort"
	"strings"

	"kcplab/internal/kcpgo"
)

var (
	requireLine = regexp.MustCompile(`(?m)^(\s*(?:require\s+)?` + regexp.QuoteMeta(ModulePath) + `\s+)(\S+)(.*)$`)
	replaceLine = regexp.MustCompile(`(?m)^\s*replace\s+` + regexp.QuoteMeta(ModulePath) + `(\s.*)?$\n?`)
)

// Modfile returns the project's go.mod (goMod) changed to link kcp-go at version (normalized): the
// require of ModulePath set to version, or, for a release served only under SeedPath, left at its
// version as a placeholder and replaced by SeedPath at version. Other requirements are kept; `go mod
// tidy -modfile` then adds what the release needs.
func Modfile(goMod []byte, version string) ([]byte, error) {
	if _, err := Normalize(version); err != nil {
		return nil, err
	}
	if !requireLine.Match(goMod) {
		return nil, fmt.Errorf("go.mod does not require %s", ModulePath)
	}
	out := replaceLine.ReplaceAll(goMod, nil)
	if Path(version) == ModulePath {
		out = requireLine.ReplaceAll(out, []byte("${1}"+version+"${3}"))
		return out, nil
	}
	out = bytes.TrimRight(out, "\n")
	out = append(out, fmt.Sprintf("\n\n// kcplab matrix: the seed's import path, without /v5\nreplace %s => %s %s\n", ModulePath, SeedPath, version)...)
	return out, nil
}

// SourceHash hashes the project's Go sources under root (every .go file but tests, embedded text and
// go.mod/go.sum), so that a change of the code rebuilds the binaries.
func SourceHash(root string) (string, error) {
	h := sha256.New()
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "out" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if (strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go")) || name == "go.mod" || name == "go.sum" || name == "releases.txt" {
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
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// ErrNoRoot is FindRoot's error when no directory above holds kcplab's go.mod.
var ErrNoRoot = errors.New("no go.mod of module kcplab above the directory")

// FindRoot returns the kcplab source tree a Builder builds from: the first directory from dir up
// whose go.mod declares module kcplab.
func FindRoot(dir string) (string, error) {
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte("module kcplab\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%s: %w", dir, ErrNoRoot)
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
	Version string   // kcp-go module version linked, e.g. "v5.4.20+incompatible"
	Path    string   // the executable
	Tags    []string // build tags used
	Cached  bool     // true when it was already built
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
// binary itself is built from the sources of the moment, as go build sees them).
func (b *Builder) Dir(version string) (string, error) {
	v, err := Normalize(version)
	if err != nil {
		return "", err
	}
	cache, err := b.cacheDir()
	if err != nil {
		return "", err
	}
	if b.hash == "" {
		if b.hash, err = SourceHash(b.Root); err != nil {
			return "", err
		}
	}
	return filepath.Join(cache, v+"-"+b.hash), nil
}

// Build returns kcplab built against kcp-go version ("seed", "v5.6.1", ...), building it unless the
// cache holds one for the current sources. An unknown or unserved version is an error wrapping
// ErrUnknown.
func (b *Builder) Build(ctx context.Context, version string) (*Binary, error) {
	v, err := Normalize(version)
	if err != nil {
		return nil, err
	}
	dir, err := b.Dir(v)
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "kcplab")
	if tags, err := os.ReadFile(filepath.Join(dir, "tags")); err == nil {
		if _, err := os.Stat(bin); err == nil {
			return &Binary{Version: v, Path: bin, Tags: strings.Fields(string(tags)), Cached: true}, nil
		}
	}
	src, err := b.Download(ctx, v)
	if err != nil {
		return nil, err
	}
	tags, err := Tags(src)
	if err != nil {
		return nil, err
	}
	goMod, err := os.ReadFile(filepath.Join(b.Root, "go.mod"))
	if err != nil {
		return nil, err
	}
	mod, err := Modfile(goMod, v)
	if err != nil {
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
	tmp := bin + ".tmp"
	args := []string{"build", "-modfile=" + modPath, "-o", tmp}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	if _, err := b.run(ctx, append(args, "./cmd/kcplab")...); err != nil {
		return nil, fmt.Errorf("building kcplab against kcp-go %s: %w", v, err)
	}
	if got, err := LinkedVersion(tmp); err != nil {
		return nil, err
	} else if got != v {
		return nil, fmt.Errorf("built against kcp-go %s, but the binary links %s", v, got)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "tags"), []byte(strings.Join(tags, " ")+"\n"), 0o644); err != nil {
		return nil, err
	}
	return &Binary{Version: v, Path: bin, Tags: tags}, nil
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
// replacement's version when ModulePath is replaced).
func LinkedVersion(bin string) (string, error) {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return "", err
	}
	for _, m := range bi.Deps {
		if m.Path != ModulePath {
			continue
		}
		if m.Replace != nil {
			return m.Replace.Version, nil
		}
		return m.Version, nil
	}
	return "", errors.New(bin + " links no kcp-go")
}
