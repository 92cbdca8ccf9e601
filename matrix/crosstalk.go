package matrix

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"kcplab/internal/kcpgo"
)

// CrossTalk measures crosstalk (kcpgo.CrossTalk) in kcplab built against version: `BIN crosstalk
// -json ...` with o's settings, its stderr to stderr; with version "", in this process.
func (r *Runner) CrossTalk(ctx context.Context, version string, o kcpgo.CrossTalkOptions, stderr io.Writer) (kcpgo.CrossTalkResult, error) {
	if version == "" {
		return kcpgo.CrossTalk(ctx, o)
	}
	var res kcpgo.CrossTalkResult
	bin, err := r.Builder.Build(ctx, version)
	if err != nil {
		return res, err
	}
	var out bytes.Buffer
	args := []string{"crosstalk", "-json", fmt.Sprint("-seconds=", int(o.Duration/time.Second)),
		fmt.Sprint("-closers=", o.Closers), fmt.Sprint("-steady=", o.Steady), fmt.Sprint("-burst=", o.BurstBytes)}
	if err := r.exec(ctx, bin.Path, args, &out, stderr); err != nil {
		return res, fmt.Errorf("kcp-go %s: %s crosstalk: %w", version, bin.Path, err)
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return res, fmt.Errorf("kcp-go %s: reading its result: %w", version, err)
	}
	return res, nil
}
