package versions

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"kcplab/internal/kcpgo"
)

const testGoMod = `module kcplab

go 1.26

require (
	github.com/gopacket/gopacket v1.7.7
	github.com/xtaci/kcp-go/v5 v5.6.72
	golang.org/x/net v0.55.0
)
`

func TestModfile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, version string
		want, notWant     []string
		err               bool
	}{
		{name: "v5 release", in: testGoMod, version: "v5.6.1",
			want:    []string{"\tgithub.com/xtaci/kcp-go/v5 v5.6.1\n", "github.com/gopacket/gopacket v1.7.7", "module kcplab"},
			notWant: []string{"v5.6.72", "replace"}},
		{name: "newer release", in: testGoMod, version: "v5.7.6",
			want: []string{"\tgithub.com/xtaci/kcp-go/v5 v5.7.6\n"}, notWant: []string{"v5.6.72"}},
		{name: "same release", in: testGoMod, version: "v5.6.72", want: []string{"github.com/xtaci/kcp-go/v5 v5.6.72"}},
		{name: "seed path", in: testGoMod, version: "v5.4.20+incompatible",
			want: []string{"github.com/xtaci/kcp-go/v5 v5.6.72\n", "\nreplace github.com/xtaci/kcp-go/v5 => github.com/xtaci/kcp-go v5.4.20+incompatible\n"}},
		{name: "single-line require", in: "module kcplab\n\ngo 1.26\n\nrequire github.com/xtaci/kcp-go/v5 v5.6.72 // pinned\n", version: "v5.6.24",
			want: []string{"require github.com/xtaci/kcp-go/v5 v5.6.24 // pinned\n"}},
		{name: "old replace dropped", in: testGoMod + "\nreplace github.com/xtaci/kcp-go/v5 => ../kcp-go\n", version: "v5.6.1",
			want: []string{"kcp-go/v5 v5.6.1"}, notWant: []string{"../kcp-go"}},
		{name: "old replace dropped for the seed", in: testGoMod + "\nreplace github.com/xtaci/kcp-go/v5 v5.6.72 => ../kcp-go\n", version: "v5.4.20+incompatible",
			want: []string{"=> github.com/xtaci/kcp-go v5.4.20+incompatible"}, notWant: []string{"../kcp-go"}},
		{name: "replace block: kcp-go's dropped, the others kept", in: testGoMod + "\nreplace (\n\tgithub.com/xtaci/kcp-go/v5 => ../kcp-go\n\tgolang.org/x/net => ../net\n)\n", version: "v5.6.1",
			want: []string{"kcp-go/v5 v5.6.1", "golang.org/x/net => ../net"}, notWant: []string{"../kcp-go"}},
		{name: "replace block for the seed", in: testGoMod + "\nreplace (\n\tgithub.com/xtaci/kcp-go/v5 => ../kcp-go\n\tgolang.org/x/net => ../net\n)\n", version: "v5.4.20+incompatible",
			want: []string{"github.com/xtaci/kcp-go/v5 => github.com/xtaci/kcp-go v5.4.20+incompatible", "golang.org/x/net => ../net"}, notWant: []string{"../kcp-go"}},
		{name: "no kcp-go", in: "module x\n\ngo 1.26\n", version: "v5.6.1", err: true},
		{name: "not a go.mod", in: "module x\nrequire (\n", version: "v5.6.1", err: true},
		{name: "bad version", in: testGoMod, version: "v5.6", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Modfile([]byte(tc.in), tc.version)
			if tc.err {
				if err == nil {
					t.Fatalf("no error; got\n%s", out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("missing %q in\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(string(out), w) {
					t.Errorf("unexpected %q in\n%s", w, out)
				}
			}
			if n := strings.Count(string(out), "github.com/xtaci/kcp-go/v5 =>"); n > 1 {
				t.Errorf("%d replace directives in\n%s", n, out)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"seed": "v5.4.20+incompatible", "v5.4.20": "v5.4.20+incompatible", "v5.4.20+incompatible": "v5.4.20+incompatible",
		"v5.4.16": "v5.4.16+incompatible", "v5.6.1": "v5.6.1", "v5.7.6": "v5.7.6", "v5.7.9": "v5.7.9",
		"v5.6.1+incompatible": "", "v5.4.22": "", "v4.3.0": "", "5.6.1": "", "v5.6": "", "v5.6.01": "", "latest": "",
	} {
		got, err := Normalize(in)
		if want == "" {
			if err == nil || !errors.Is(err, ErrUnknown) {
				t.Errorf("Normalize(%q) = %q, %v; want an ErrUnknown", in, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestReleases(t *testing.T) {
	t.Parallel()
	r := Releases()
	if r[0] != "v5.4.16+incompatible" || r[len(r)-1] != "v5.7.6" {
		t.Errorf("releases from %s to %s", r[0], r[len(r)-1])
	}
	for i := 1; i < len(r); i++ {
		if Compare(r[i-1], r[i]) >= 0 {
			t.Errorf("%s before %s", r[i-1], r[i])
		}
	}
	for _, d := range Defaults {
		if !Known(d) {
			t.Errorf("default %s is not in the release list", d)
		}
	}
	if Known("v5.4.22") || Known("v5.4.22+incompatible") {
		t.Error("v5.4.22 is not served")
	}
	b, err := Between("v5.4.20+incompatible", "v5.5.2")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(b, " "); got != "v5.4.20+incompatible v5.5.0 v5.5.1 v5.5.2" {
		t.Errorf("Between = %s", got)
	}
	if b, _ := Between("v5.6.1", "v5.6.1"); len(b) != 1 {
		t.Errorf("Between(v5.6.1, v5.6.1) = %v", b)
	}
	if _, err := Between("v5.6.2", "v5.6.1"); err == nil {
		t.Error("Between accepted a reversed range")
	}
}

func TestSourceHash(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module x\n")
	write("a/a.go", "package a\n")
	h1, err := SourceHash(dir)
	if err != nil {
		t.Fatal(err)
	}
	write("a/a_test.go", "package a\n")
	write("out/x.go", "package x\n")
	write("README.md", "hello\n")
	if h2, _ := SourceHash(dir); h2 != h1 {
		t.Error("tests, out/ or docs changed the hash")
	}
	write("a/a.go", "package a // changed\n")
	if h3, _ := SourceHash(dir); h3 == h1 {
		t.Error("a source change kept the hash")
	}
}

// build really builds this module's kcplab against kcp-go version (named as kcplab matrix takes it), what
// it names in its skip, with a Builder of its own cache; it is skipped with -short (a module download and
// a build).
func build(t *testing.T, version, what string) (*Builder, *Binary) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds kcplab against kcp-go " + what + " (module download and a build)")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	b := &Builder{Root: root, CacheDir: t.TempDir()}
	bin, err := b.Build(context.Background(), version)
	if err != nil {
		t.Fatal(err)
	}
	return b, bin
}

// TestBuildV561 really builds kcplab against v5.6.1 (NewConn3 shim) and checks the binary's build info.
func TestBuildV561(t *testing.T) {
	b, bin := build(t, "v5.6.1", "v5.6.1")
	if bin.Cached || bin.Version != "v5.6.1" || strings.Join(bin.Tags, ",") != kcpgo.NoConn4Tag+","+kcpgo.PlainTimeoutTag {
		t.Errorf("got %+v", bin)
	}
	if v, err := LinkedVersion(bin.Path); err != nil || v != "v5.6.1" {
		t.Errorf("LinkedVersion = %q, %v", v, err)
	}
	again, err := b.Build(context.Background(), "v5.6.1")
	if err != nil || !again.Cached || again.Path != bin.Path {
		t.Errorf("second build: %+v, %v", again, err)
	}
	if _, err := b.Build(context.Background(), "v5.4.23"); !errors.Is(err, ErrUnknown) {
		t.Errorf("v5.4.23: %v, want ErrUnknown", err)
	}
}

func TestTags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "sess.go"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("package kcp\n\nfunc NewConn4() {}\n\ntype timeoutError struct{}\n\ntype Listener struct{ ownConn bool }\n")
	if tags, err := Tags(dir); err != nil || len(tags) != 0 {
		t.Errorf("new API: %v, %v", tags, err)
	}
	write("package kcp\n\nfunc NewConn3() {}\n\ntype Listener struct{ ownConn bool }\n")
	if tags, err := Tags(dir); err != nil || strings.Join(tags, ",") != kcpgo.NoConn4Tag+","+kcpgo.PlainTimeoutTag {
		t.Errorf("v5.6.1 API: %v, %v", tags, err)
	}
	write("package kcp\n\nfunc NewConn3() {}\n")
	if tags, err := Tags(dir); err != nil || strings.Join(tags, ",") != kcpgo.NoConn4Tag+","+kcpgo.PlainTimeoutTag+","+kcpgo.ListenerOwnsConnTag {
		t.Errorf("old API: %v, %v", tags, err)
	}
}

// TestBuildSeed really builds kcplab against the seed's import path (a replace of the /v5 path by
// github.com/xtaci/kcp-go v5.4.20+incompatible) and checks that the binary reports that version.
func TestBuildSeed(t *testing.T) {
	_, bin := build(t, "seed", "v5.4.20+incompatible")
	if want := kcpgo.NoConn4Tag + "," + kcpgo.PlainTimeoutTag + "," + kcpgo.ListenerOwnsConnTag; strings.Join(bin.Tags, ",") != want {
		t.Errorf("tags %v, want %s", bin.Tags, want)
	}
	if v, err := LinkedVersion(bin.Path); err != nil || v != SeedVersion {
		t.Errorf("LinkedVersion = %q, %v", v, err)
	}
	mod, err := os.ReadFile(filepath.Join(filepath.Dir(bin.Path), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mod), "replace github.com/xtaci/kcp-go/v5 => github.com/xtaci/kcp-go v5.4.20+incompatible") {
		t.Errorf("generated go.mod:\n%s", mod)
	}
}

// TestLocalNames: a path is a working tree, named in its clean form, ordered after every release,
// and given a directory name of its own; a release is none of that.
func TestLocalNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		local    bool
	}{
		{"./kcp-go", "./kcp-go", true},
		{"kcp-go/", "./kcp-go", true},
		{"../src/kcp-go/", "../src/kcp-go", true},
		{"/src/kcp-go", "/src/kcp-go", true},
		{".", ".", true},
		{"v5.7.6", "v5.7.6", false},
		{"seed", SeedVersion, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			if IsLocal(tc.in) != tc.local {
				t.Errorf("IsLocal(%q) = %v", tc.in, !tc.local)
			}
			got, err := Normalize(tc.in)
			if err != nil || got != tc.want {
				t.Errorf("Normalize(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			name := FileName(got)
			if strings.ContainsRune(name, '/') || (tc.local && !strings.HasPrefix(name, "local-")) || (!tc.local && name != got) {
				t.Errorf("FileName(%q) = %q", got, name)
			}
			if tc.local && (Compare(got, "v5.7.6") != 1 || Compare("v5.7.6", got) != -1 || Compare(got, "./other") != 0) {
				t.Errorf("Compare puts %q elsewhere than after every release", got)
			}
		})
	}
	if FileName("./a/kcp-go") == FileName("./b/kcp-go") {
		t.Error("two trees of one base name share a directory name")
	}
}

// TestBetweenTrees: a bisection to a tree goes up from the release, one from a tree goes down to it.
func TestBetweenTrees(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ from, to, want string }{
		{"v5.6.72", "./kcp-go", "v5.6.72 v5.7.3 v5.7.4 v5.7.5 v5.7.6 ./kcp-go"},
		{"./kcp-go", "v5.7.4", "./kcp-go v5.7.6 v5.7.5 v5.7.4"},
		{"./a", "./b", "./a ./b"},
	} {
		got, err := Between(tc.from, tc.to)
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("Between(%s, %s) = %v, %v; want %s", tc.from, tc.to, got, err, tc.want)
		}
	}
}

// writeTree writes a kcp-go module (go.mod of module) with one source file under dir.
func writeTree(t *testing.T, dir, module string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"go.mod": "module " + module + "\n\ngo 1.21\n", "kcp.go": "package kcp\n\nconst IKCP_INTERVAL = 100\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReadTree: a tree is a directory with kcp-go's go.mod; its name carries the path, the VCS state
// and the files' hash, which changes with any file.
func TestReadTree(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good, other := filepath.Join(dir, "kcp-go"), filepath.Join(dir, "other")
	writeTree(t, good, ModulePath)
	writeTree(t, other, "example.com/other")
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "none"), "not a directory"},
		{dir, "no go.mod"},
		{other, "is not module " + ModulePath},
		{filepath.Join(good, "kcp.go"), "not a directory"},
	} {
		if _, err := ReadTree(context.Background(), tc.path); !errors.Is(err, ErrUnknown) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadTree(%s) = %v; want ErrUnknown, %q", tc.path, err, tc.want)
		}
	}
	tree, err := ReadTree(context.Background(), good)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tree.Name(), good+" (no VCS, files sha256:"+tree.Hash+")") {
		t.Errorf("name %q", tree.Name())
	}
	if err := os.WriteFile(filepath.Join(good, "kcp.go"), []byte("package kcp\n\nconst IKCP_INTERVAL = 150\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if changed, _ := ReadTree(context.Background(), good); changed.Hash == tree.Hash {
		t.Error("a changed file kept the tree's hash")
	}
}

// TestReadTreeVCS: a tree in a git checkout is named by HEAD's revision and whether it is modified,
// the keys `go version -m` shows.
func TestReadTreeVCS(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git:", err)
	}
	dir := t.TempDir()
	writeTree(t, dir, ModulePath)
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-qm", "tree")
	rev := git("rev-parse", "HEAD")
	tree, err := ReadTree(context.Background(), dir)
	if err != nil || tree.VCS != "vcs.revision="+rev+", vcs.modified=false" {
		t.Errorf("clean checkout: %+v, %v", tree, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kcp.go"), []byte("package kcp\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if tree, err := ReadTree(context.Background(), dir); err != nil || tree.VCS != "vcs.revision="+rev+", vcs.modified=true" {
		t.Errorf("modified checkout: %+v, %v", tree, err)
	}
}

// TestLocalModfile: the tree replaces kcp-go's module by its directory, once.
func TestLocalModfile(t *testing.T) {
	t.Parallel()
	out, err := LocalModfile([]byte(testGoMod+"\nreplace github.com/xtaci/kcp-go/v5 => ../old\n"), "/src/my kcp-go")
	if err != nil {
		t.Fatal(err)
	}
	if s := string(out); !strings.Contains(s, "replace github.com/xtaci/kcp-go/v5 => \"/src/my kcp-go\"\n") || strings.Contains(s, "../old") {
		t.Errorf("go.mod:\n%s", s)
	}
	if _, err := LocalModfile([]byte("module x\n"), "/src"); err == nil {
		t.Error("a go.mod without kcp-go")
	}
}

// TestFindRoot: the source tree is the first directory up whose go.mod declares module kcplab; from
// outside any, the error is ErrNoRoot and names where the search started.
func TestFindRoot(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	other := filepath.Join(root, "vendor", "x")
	for path, mod := range map[string]string{root: "module kcplab\n\ngo 1.26\n", other: "module example.com/x\n"} {
		if err := os.MkdirAll(filepath.Join(path, "deep"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(path, "go.mod"), []byte(mod), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range []string{root, filepath.Join(root, "deep"), filepath.Join(other, "deep")} {
		if got, err := FindRoot(dir); err != nil || got != root {
			t.Errorf("FindRoot(%s) = %q, %v; want %q", dir, got, err, root)
		}
	}
	outside := t.TempDir()
	if _, err := FindRoot(outside); !errors.Is(err, ErrNoRoot) || !strings.Contains(err.Error(), outside) {
		t.Errorf("FindRoot(%s): %v; want ErrNoRoot naming %s", outside, err, outside)
	}
}
