package link

import (
	"kcplab/internal/kcpleak"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// kcp-go keeps process-wide goroutines (see kcpleak).
	goleak.VerifyTestMain(m, kcpleak.Options()...)
}
