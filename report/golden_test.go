package report

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with what the tests render")

// golden compares got with testdata/name.golden, or with -update writes got there.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./report -update writes it)", err)
	}
	if d := firstDiff(string(want), got); d != "" {
		t.Errorf("%s: rendered text differs (after a deliberate change, go test ./report -run '%s' -update rewrites it):\n%s",
			path, t.Name(), d)
	}
}

// firstDiff describes the first line where got differs from want, or returns "" when they are equal.
func firstDiff(want, got string) string {
	if want == got {
		return ""
	}
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl || i >= len(w) || i >= len(g) {
			return fmt.Sprintf("line %d:\n want %q\n  got %q", i+1, wl, gl)
		}
	}
	return "same lines, different bytes"
}

func TestFirstDiff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, want, got, diff string }{
		{"equal", "a\nb\n", "a\nb\n", ""},
		{"changed line", "a\nb\n", "a\nc\n", "line 2:\n want \"b\"\n  got \"c\""},
		{"extra line", "a\n", "a\nb\n", "line 2:\n want \"\"\n  got \"b\""},
		{"missing line", "a\nb", "a", "line 2:\n want \"b\"\n  got \"\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if d := firstDiff(tc.want, tc.got); d != tc.diff {
				t.Errorf("firstDiff(%q, %q) = %q, want %q", tc.want, tc.got, d, tc.diff)
			}
		})
	}
}
