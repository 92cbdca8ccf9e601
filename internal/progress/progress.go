// Package progress shows how far a long run is: a progress bar on stderr when it is a terminal, and
// otherwise a line of counts every few seconds on the run's output, so that logs stay readable.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// lineEvery is how often a run that is not on a terminal prints its counts.
const lineEvery = 2 * time.Second

// terminal returns stderr as a file when it is a terminal.
func terminal(stderr io.Writer) (*os.File, bool) {
	f, ok := stderr.(*os.File)
	return f, ok && term.IsTerminal(int(f.Fd()))
}

// newBar is the progress bar of n units drawn on f, cleared when it finishes (so that the lines
// printed after it stay readable).
func newBar(f *os.File, n int, desc string) *progressbar.ProgressBar {
	return progressbar.NewOptions(n,
		progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetWidth(40),
		progressbar.OptionClearOnFinish())
}

// Counter returns a harness.RunOptions.Progress function for a run of n units named unit (trials,
// cases), and a function to call when the run ends. On a terminal stderr it draws a bar described
// by id; otherwise it prints "  done/total UNIT" to w every 2 s and at the end.
func Counter(w, stderr io.Writer, id string, n int, unit string) (progress func(done, total int), finish func()) {
	if f, ok := terminal(stderr); ok {
		bar := newBar(f, n, "  "+id)
		return func(done, _ int) { _ = bar.Set(done) }, func() { _ = bar.Finish() }
	}
	last := time.Now()
	return func(done, total int) {
		if time.Since(last) > lineEvery || done == total {
			fmt.Fprintf(w, "  %d/%d %s\n", done, total, unit)
			last = time.Now()
		}
	}, func() {}
}

// Shared is one bar for several jobs that run side by side, each reporting its own count. Its
// methods do nothing on a nil Shared, which NewShared returns when stderr is not a terminal.
type Shared struct {
	mu   sync.Mutex
	bar  *progressbar.ProgressBar
	done []int
}

// NewShared returns the bar of jobs that make total units in all, or nil when stderr is not a terminal.
func NewShared(stderr io.Writer, jobs, total int, desc string) *Shared {
	f, ok := terminal(stderr)
	if !ok {
		return nil
	}
	return &Shared{bar: newBar(f, total, desc), done: make([]int, jobs)}
}

// Job returns job i's progress function.
func (s *Shared) Job(i int) func(done, total int) {
	return func(done, _ int) {
		s.locked(func() {
			s.done[i] = done
			sum := 0
			for _, d := range s.done {
				sum += d
			}
			_ = s.bar.Set(sum)
		})
	}
}

// Clear takes the bar off the terminal before lines are printed; the next count draws it again.
func (s *Shared) Clear() { s.locked(func() { _ = s.bar.Clear() }) }

// Finish ends the bar.
func (s *Shared) Finish() { s.locked(func() { _ = s.bar.Finish() }) }

func (s *Shared) locked(f func()) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

// Steps is a bar of named steps (a matrix's builds and runs) whose status lines go to w. A Steps
// made when stderr is not a terminal only prints the lines.
type Steps struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

// NewSteps returns the bar of n steps.
func NewSteps(w, stderr io.Writer, n int) *Steps {
	s := &Steps{w: w}
	if f, ok := terminal(stderr); ok {
		s.bar = progressbar.NewOptions(n, progressbar.OptionSetWriter(f), progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(false), progressbar.OptionClearOnFinish(), progressbar.OptionFullWidth())
	}
	return s
}

// Step describes the step now running, after counting the previous one when done.
func (s *Steps) Step(desc string, done bool) {
	if s == nil || s.bar == nil {
		return
	}
	if done {
		_ = s.bar.Add(1)
	}
	s.bar.Describe(desc)
}

// Printf prints a status line, clearing the bar first.
func (s *Steps) Printf(format string, args ...any) {
	if s.bar != nil {
		_ = s.bar.Clear()
	}
	fmt.Fprintf(s.w, format, args...)
}

// Finish ends the bar.
func (s *Steps) Finish() {
	if s != nil && s.bar != nil {
		_ = s.bar.Finish()
	}
}
