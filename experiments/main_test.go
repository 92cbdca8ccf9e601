package experiments

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"testing"
)

// testOut holds the trials' pcapng files for as long as the test process runs: TestExperiments writes
// them, and its tshark subtests read them.
var testOut string

// TestMain lets `go test ./experiments -run p003` select experiments by id: every experiment is a
// subtest of TestExperiments, so a -run pattern that names
// experiment ids but no test function is turned into that test's subtests. It also lets every
// experiment run at once: they wait on timers and sockets, not on the CPU, so unless -parallel is
// given, as many subtests run in parallel as there are experiments.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", strconv.Itoa(max(len(All()), runtime.GOMAXPROCS(0))))
	}
	if f := flag.Lookup("test.run"); f != nil {
		if pat := f.Value.String(); pat != "" {
			if rewritten, ok := experimentPattern(pat); ok {
				_ = f.Value.Set(rewritten)
			}
		}
	}
	var err error
	if testOut, err = os.MkdirTemp("", "kcplab-test-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(testOut)
	os.Exit(code)
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
