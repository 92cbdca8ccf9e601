package experiments

import (
	"flag"
	"os"
	"regexp"
	"testing"
)

// TestMain lets `go test ./experiments -run p003` select experiments by id: every experiment is a
// subtest of TestExperiments, so a -run pattern that names experiment ids but no test function is
// turned into TestExperiments/<pattern>.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.run"); f != nil {
		if pat := f.Value.String(); pat != "" {
			if rewritten, ok := experimentPattern(pat); ok {
				_ = f.Value.Set(rewritten)
			}
		}
	}
	os.Exit(m.Run())
}

// experimentPattern rewrites a -run pattern that matches experiment ids and no top-level test.
func experimentPattern(pat string) (string, bool) {
	re, err := regexp.Compile(pat)
	if err != nil || re.MatchString("TestExperiments") || re.MatchString("Test") {
		return "", false
	}
	for _, e := range All() {
		if re.MatchString(e.ID) {
			return "^TestExperiments$/" + pat, true
		}
	}
	return "", false
}
