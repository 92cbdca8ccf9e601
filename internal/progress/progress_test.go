package progress

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNotATerminal checks what a run shows when stderr is not a terminal: the counter's last line
// and the steps' status lines, and no bar.
func TestNotATerminal(t *testing.T) {
	t.Parallel()
	var out, errw bytes.Buffer
	progress, finish := Counter(&out, &errw, "p003", 3, "trials")
	progress(1, 3) // within the first 2 s: no line
	progress(3, 3) // the last: always a line
	finish()
	require.Equal(t, "  3/3 trials\n", out.String())

	require.Nil(t, NewShared(&errw, 2, 10, "x"), "no shared bar off a terminal")
	var s *Shared
	s.Job(0)(1, 1) // a nil Shared is a no-op, not a panic
	s.Clear()
	s.Finish()

	out.Reset()
	st := NewSteps(&out, &errw, 4)
	st.Step("build v5.7.6", false)
	st.Printf("built %s\n", "v5.7.6")
	st.Finish()
	require.Equal(t, "built v5.7.6\n", out.String())
	require.Empty(t, errw.String(), "nothing drawn on a stderr that is not a terminal")
}
