// Command kcplab runs kcplab's experiments and decodes KCP captures: `kcplab help` lists its
// commands (program, below), and the README says what each is for.
//
// Flags may come before or after the positional arguments.
//
// Exit status: 0 on success, 1 when a trial fits no class or breaks an invariant (compare: when a
// class's share differs between the runs), 2 on bad input.
package main

import (
	"os"

	"kcplab/experiments"
	"kcplab/internal/cli"
	"kcplab/matrix"
	"kcplab/sched"
	"kcplab/versions"
)

// program is kcplab's commands. An unknown experiment or kcp-go version, a malformed peer, shard or
// cell, a peer that did not start, parts that do not merge, and a working directory outside the
// source tree where kcplab must build are bad input, wherever they come from.
var program = cli.Program{
	Name: "kcplab",
	Commands: []cli.Command{
		{Name: "list", Help: "list the experiments", Run: runList},
		{Name: "run", Args: "[-trials N] [-parallel P] [-out DIR] [-capture tap|live] [-shard I/N [-block B]] [ID...]", Help: "run experiments (all by default)", Run: runRun},
		{Name: "results", Args: "[-trials N] [-out DIR] [-testdata DIR] [-o FILE] [-from RESULTS.md] [ID...]", Help: "run experiments; write a new RESULTS.md and one capture per class under -out", Run: runResults},
		{Name: "decode", Args: "[-framing auto|plain|fec|encrypted] [-encrypted-port P,...] [-port N] [-json] FILE...", Help: "print the KCP segments of pcap/pcapng files", Run: runDecode},
		{Name: "compare", Args: "[-alpha A] RUN[,RUN...] RUN[,RUN...]", Help: "compare the class shares of two runs, or of two sets of runs (each run a matrix.json or the -out DIR holding one; testdata/ holds RESULTS.md's): per class, Fisher's exact test, or over runs when a side has several; exit 1 when one differs", Run: runCompare},
		{Name: "matrix", Args: "[-pairs [-peers LIST] [-peer NAME=CMD]] [-versions LIST] [-trials N] [-parallel P] [-out DIR] [-results RESULTS.md] [-shard I/N [-block B]] [ID...]", Help: "run experiments against several kcp-go releases or working trees, one process each (-pairs: server and client on every pair of peers: kcp-go releases, ikcp, your own commands)", Run: runMatrix},
		{Name: "merge", Args: "-out DIR [-results RESULTS.md] PARTDIR...", Help: "merge the parts of a split matrix or run (-shard I/N) into the matrix.json, charts and RESULTS.md section of one unsplit run", Run: runMerge},
		{Name: "peer", Help: "serve the peer protocol on stdin and stdout (for matrix -pairs)", Run: runPeer},
		{Name: "hosts", Args: "[-on loopback,veth] [-trials N] [-parallel P] [-out DIR] [-results RESULTS.md] [-report] [ID...]", Help: "run pair experiments (p001 p003) with each peer in a network namespace of its own over veth (root), and on loopback; compare their class shares", Run: runHosts},
		{Name: "bisect", Args: "-from V1 -to V2 [-trials N] [-parallel P] [-out DIR] ID CLASS", Help: "find the first kcp-go release where a class's share changes", Run: runBisect},
		{Name: "claims", Args: "[-seeds N] [-bulk-seeds N] [-hosts auto|on|off] [-parallel P] [-out DIR] [-results RESULTS.md]", Help: "measure KCP's published claims: test.cpp's mode table, and KCP against kernel TCP on the same simulated link (namespaces over TUN; root)", Run: runClaims},
		{Name: "crosstalk", Args: "[-seconds N] [-closers N] [-steady N] [-burst BYTES] [-versions LIST] [-json] [-results RESULTS.md]", Help: "count datagrams kcp-go sends through another session's socket (many sessions in one process)", Run: runCrossTalk},
	},
	BadInput: []error{experiments.ErrUnknown, versions.ErrUnknown, versions.ErrNoRoot, matrix.ErrBadPeer, matrix.ErrPeerStart,
		matrix.ErrBadShard, matrix.ErrBadCells, matrix.ErrMerge, sched.ErrNamedTwice},
}

func main() {
	growPipe(os.Stdout)
	os.Exit(program.Main(os.Args[1:], os.Stdout, os.Stderr))
}
