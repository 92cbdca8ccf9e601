package claims

import (
	"context"
	"sync"

	"kcplab/internal/kcpgo"
)

// RunPlan runs the plan's groups one after another, each group's cases side by side (at most its
// Parallel at once), and returns the results in the plan's order. done is called after each case
// (from one goroutine at a time); keep says which cases keep their link records. A case that ctx
// stops ends with ctx's error; no case starts after that.
func RunPlan(ctx context.Context, p Plan, keep func(Case) bool, done func(Result)) []Result {
	kcpgo.WarmWorkers()
	var out []Result
	var mu sync.Mutex
	for _, g := range p.Groups {
		res := make([]Result, len(g.Cases))
		sem := make(chan struct{}, max(g.Parallel, 1))
		var wg sync.WaitGroup
		for i, c := range g.Cases {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				res[i] = Result{Case: c, Err: ctx.Err()}
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				res[i] = Run(ctx, c, keep != nil && keep(c))
				if done != nil {
					mu.Lock()
					done(res[i])
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		out = append(out, res...)
	}
	return out
}
