package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"

	"kcplab/matrix"
)

// The Kubernetes manifests (deploy/k8s) and the workflow (.github/workflows/matrix.yml) run kcplab
// commands that must parse with kcplab's own flags: these tests run each one's flags through Main
// with -h appended (which parses every flag, then prints the usage instead of running), and check
// that the shards they name are every shard once and the merge step merges every part.

// checkCommand parses args (without the program name) with kcplab's flag sets and returns the
// value of each flag given (the last one of a repeated flag) and the positional arguments.
func checkCommand(t *testing.T, args []string) (flags map[string]string, pos []string) {
	t.Helper()
	require.NotEmpty(t, args)
	code, _, stderr := kcplab(t, append(slices.Clone(args), "-h")...)
	require.Equal(t, 0, code, "kcplab %s: %s", strings.Join(args, " "), stderr)
	require.NotContains(t, stderr, "flag provided but not defined")
	flags = map[string]string{}
	for i := 1; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			pos = append(pos, a)
			continue
		}
		name, value, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !ok && i+1 < len(args) && !isBoolFlag(name) {
			i++
			value = args[i]
		}
		flags[name] = value
	}
	return flags, pos
}

// isBoolFlag reports whether kcplab's flag name takes no value.
func isBoolFlag(name string) bool {
	return slices.Contains([]string{"v", "pairs", "across", "discover", "json"}, name)
}

// k8sVar replaces the $(NAME) references Kubernetes expands in a container's command.
var k8sVar = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// container is what the tests read of a Job's container.
type container struct {
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Env     []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
}

// job is what the tests read of a Kubernetes object.
type job struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		CompletionMode string `yaml:"completionMode"`
		Completions    int    `yaml:"completions"`
		Template       struct {
			Spec struct {
				Containers []container `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// readJobs reads every Job of the YAML files in dir.
func readJobs(t *testing.T, dir string) []job {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var jobs []job
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var j job
			err := dec.Decode(&j)
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, f)
			if j.Kind == "Job" {
				jobs = append(jobs, j)
			}
		}
	}
	return jobs
}

// TestK8sManifest: the Indexed Job's pods run kcplab matrix with their shard from
// JOB_COMPLETION_INDEX and KCPLAB_SHARDS (= completions), each into its own directory, and the
// merge Job merges exactly those directories.
func TestK8sManifest(t *testing.T) {
	t.Parallel()
	jobs := readJobs(t, filepath.Join("..", "..", "deploy", "k8s"))
	var parts, merged []string
	n := 0
	for _, j := range jobs {
		for _, c := range j.Spec.Template.Spec.Containers {
			cmd := append(slices.Clone(c.Command), c.Args...)
			if len(cmd) == 0 || filepath.Base(cmd[0]) != "kcplab" {
				continue
			}
			env := map[string]string{}
			for _, e := range c.Env {
				env[e.Name] = e.Value
			}
			switch cmd[1] {
			case "matrix", "run":
				require.Equal(t, "Indexed", j.Spec.CompletionMode, "job %s", j.Metadata.Name)
				n = j.Spec.Completions
				require.Positive(t, n)
				require.Equal(t, fmt.Sprint(n), env[matrix.ShardsEnv], "job %s: %s must be its completions", j.Metadata.Name, matrix.ShardsEnv)
				for i := range n {
					env[matrix.IndexEnv] = fmt.Sprint(i)
					args := expandK8s(cmd[1:], env)
					flags, _ := checkCommand(t, args)
					require.NotContains(t, flags, "shard", "the shard comes from the environment")
					sh, ok, err := matrix.ShardFromEnv(func(k string) string { return env[k] })
					require.NoError(t, err)
					require.True(t, ok)
					assert.Equal(t, matrix.Shard{I: i, N: n}, sh)
					require.NotEmpty(t, flags["out"])
					parts = append(parts, flags["out"])
				}
			case "merge":
				flags, pos := checkCommand(t, expandK8s(cmd[1:], env))
				require.NotEmpty(t, flags["out"])
				merged = append(merged, pos...)
			default:
				t.Errorf("job %s runs kcplab %s", j.Metadata.Name, cmd[1])
			}
		}
	}
	require.NotZero(t, n, "an Indexed Job runs kcplab matrix")
	assert.Len(t, slices.Compact(slices.Sorted(slices.Values(parts))), n, "each shard its own directory: %v", parts)
	assert.ElementsMatch(t, parts, merged, "the merge Job merges every shard's directory")
}

// expandK8s replaces $(NAME) in args by env's values, as Kubernetes does; a name env lacks stays.
func expandK8s(args []string, env map[string]string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = k8sVar.ReplaceAllStringFunc(a, func(m string) string {
			if v, ok := env[k8sVar.FindStringSubmatch(m)[1]]; ok {
				return v
			}
			return m
		})
	}
	return out
}

// workflow is what the tests read of a GitHub Actions workflow.
type workflow struct {
	Jobs map[string]struct {
		Needs    any `yaml:"needs"`
		Strategy struct {
			Matrix map[string][]any `yaml:"matrix"`
		} `yaml:"strategy"`
		Steps []struct {
			Run  string         `yaml:"run"`
			Uses string         `yaml:"uses"`
			With map[string]any `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

// ghExpr is a GitHub Actions expression, ${{ ... }}.
var ghExpr = regexp.MustCompile(`\$\{\{\s*([^}]*?)\s*\}\}`)

// kcplabCalls returns the kcplab commands of a shell script (without the program name), its
// expressions ${{ NAME }} replaced by vars and its shell variables left as $NAME.
func kcplabCalls(t *testing.T, script string, vars map[string]string) [][]string {
	t.Helper()
	script = ghExpr.ReplaceAllStringFunc(script, func(m string) string {
		name := ghExpr.FindStringSubmatch(m)[1]
		v, ok := vars[name]
		require.True(t, ok, "expression %s has no value here", m)
		return v
	})
	f, err := syntax.NewParser().Parse(strings.NewReader(script), "")
	require.NoError(t, err, script)
	cfg := &expand.Config{Env: expand.FuncEnviron(func(name string) string { return "$" + name })}
	var calls [][]string
	syntax.Walk(f, func(n syntax.Node) bool {
		call, ok := n.(*syntax.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		words, err := expand.Fields(cfg, call.Args...)
		require.NoError(t, err)
		if len(words) > 0 && filepath.Base(words[0]) == "kcplab" {
			calls = append(calls, words[1:])
		}
		return true
	})
	return calls
}

// TestWorkflowMatrix: each job of the workflow's matrix runs kcplab matrix -shard I/N with its own
// I, N the matrix's size, every I once; the merge job merges one downloaded part per shard.
func TestWorkflowMatrix(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", ".github", "workflows", "matrix.yml"))
	require.NoError(t, err)
	var wf workflow
	require.NoError(t, yaml.Unmarshal(b, &wf))
	var shards []matrix.Shard
	var artifacts, merged []string
	n := 0
	for name, j := range wf.Jobs {
		values := j.Strategy.Matrix["shard"]
		// One run of the job's steps per value of the matrix (one, without a matrix).
		runs := []map[string]string{{}}
		if len(values) > 0 {
			n = len(values)
			runs = nil
			for _, v := range values {
				runs = append(runs, map[string]string{"matrix.shard": fmt.Sprint(v)})
			}
		}
		for _, vars := range runs {
			for _, s := range j.Steps {
				if strings.HasPrefix(s.Uses, "actions/upload-artifact") && vars["matrix.shard"] != "" {
					artifacts = append(artifacts, ghExpr.ReplaceAllString(fmt.Sprint(s.With["name"]), vars["matrix.shard"]))
				}
				for _, args := range kcplabCalls(t, s.Run, vars) {
					flags, pos := checkCommand(t, args)
					switch args[0] {
					case "matrix", "run":
						sh, err := matrix.ParseShard(flags["shard"])
						require.NoError(t, err, "job %s: %v", name, args)
						shards = append(shards, sh)
					case "merge":
						require.NotEmpty(t, flags["out"])
						merged = append(merged, pos...)
					default:
						t.Errorf("job %s runs kcplab %s", name, args[0])
					}
				}
			}
		}
	}
	require.Positive(t, n, "a job with strategy.matrix.shard")
	require.Len(t, shards, n)
	for i := range n {
		assert.Contains(t, shards, matrix.Shard{I: i, N: n})
	}
	// download-artifact puts each artifact in a directory of its name under its path.
	var want []string
	for _, a := range artifacts {
		want = append(want, "parts/"+a)
	}
	assert.Len(t, artifacts, n)
	assert.ElementsMatch(t, want, merged, "the merge job merges every shard's part")
}
