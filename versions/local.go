package versions

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/mod/modfile"
)

// A kcp-go working tree as a "version": a directory holding a go.mod of ModulePath, named by its path
// ("./kcp-go", "/src/kcp-go"). kcplab is built against it through a replace directive, and the binary
// names it by its path, its VCS state and its files' hash (Tree.Name).

// IsLocal reports whether s names a working tree rather than a release: it holds a path separator or
// is "." or "..". A directory in the working directory is named "./kcp-go".
func IsLocal(s string) bool {
	return strings.ContainsRune(s, '/') || strings.ContainsRune(s, filepath.Separator) || s == "." || s == ".."
}

// cleanLocal is the path s, cleaned, with "./" in front of a relative path that does not start with
// "..", so that it still reads as a path.
func cleanLocal(s string) string {
	c := filepath.Clean(s)
	if filepath.IsAbs(c) || c == "." || c == ".." || strings.HasPrefix(c, ".."+string(filepath.Separator)) {
		return c
	}
	return "." + string(filepath.Separator) + c
}

// FileName is version as one file name, for directories named after versions: a release as it is, a
// working tree as "local-BASE-HASH" (its path's base name and a hash of the path).
func FileName(version string) string {
	if !IsLocal(version) {
		return version
	}
	sum := sha256.Sum256([]byte(version))
	return "local-" + filepath.Base(version) + "-" + hex.EncodeToString(sum[:4])
}

// Tree is a kcp-go working tree as it is now.
type Tree struct {
	Path string // as named, cleaned: "./kcp-go"
	Abs  string // absolute
	Hash string // of its files (TreeHash)
	VCS  string // "vcs.revision=R, vcs.modified=M", or "no VCS"
}

// Name is how a binary built against the tree names its kcp-go (summary.json's kcp_go): the path, the
// VCS state (the keys `go version -m` shows for a module built in a checkout) and the files' hash.
func (t *Tree) Name() string {
	return fmt.Sprintf("%s (%s, files sha256:%s)", t.Path, t.VCS, t.Hash)
}

// ReadTree checks that path is a directory holding a go.mod of ModulePath (else an error wrapping
// ErrUnknown) and reads its state: files' hash and VCS state.
func ReadTree(ctx context.Context, path string) (*Tree, error) {
	p := cleanLocal(path)
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%w %s: not a directory (a kcp-go working tree holding go.mod)", ErrUnknown, p)
	}
	mod, err := os.ReadFile(filepath.Join(abs, "go.mod"))
	if err != nil {
		return nil, fmt.Errorf("%w %s: no go.mod: want a kcp-go working tree (module %s)", ErrUnknown, p, ModulePath)
	}
	if modfile.ModulePath(mod) != ModulePath {
		return nil, fmt.Errorf("%w %s: its go.mod is not module %s", ErrUnknown, p, ModulePath)
	}
	hash, err := TreeHash(abs)
	if err != nil {
		return nil, err
	}
	return &Tree{Path: p, Abs: abs, Hash: hash, VCS: vcsState(ctx, abs)}, nil
}

// TreeHash hashes every regular file under dir but those of a .git directory, by path and content:
// a change of any file rebuilds a binary built against the tree.
func TreeHash(dir string) (string, error) {
	h, err := hashFiles(dir, func(name string) bool { return name == ".git" }, func(string) bool { return true })
	return h[:min(len(h), 12)], err
}

// vcsState is what the go command stamps into a binary built in dir (`go version -m`: vcs.revision,
// vcs.modified), read with git as the go command does: HEAD's revision, and modified when `git
// status --porcelain` lists anything. "no VCS" when dir is not in a git checkout (or git is missing).
func vcsState(ctx context.Context, dir string) string {
	git := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...).Output()
		return string(bytes.TrimSpace(out)), err
	}
	top, err := git("rev-parse", "--show-toplevel")
	if err != nil || top == "" {
		return "no VCS"
	}
	rev, err := git("rev-parse", "HEAD")
	if err != nil {
		return "git checkout without a commit"
	}
	status, err := exec.CommandContext(ctx, "git", "-C", top, "status", "--porcelain").Output()
	if err != nil {
		return fmt.Sprintf("vcs.revision=%s, vcs.modified=unknown", rev)
	}
	return fmt.Sprintf("vcs.revision=%s, vcs.modified=%t", rev, len(bytes.TrimSpace(status)) > 0)
}

// LocalModfile returns the project's go.mod (goMod) changed to link kcp-go from the directory abs: a
// replace of ModulePath by it (the require stays as a placeholder). `go mod tidy -modfile` then adds
// what the tree needs.
func LocalModfile(goMod []byte, abs string) ([]byte, error) {
	f, err := kcpGoModfile(goMod)
	if err != nil {
		return nil, err
	}
	if err := f.AddReplace(ModulePath, "", abs, ""); err != nil {
		return nil, err
	}
	return f.Format()
}
