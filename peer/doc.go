// Package peer runs one role of a trial in a process of its own and drives such processes: the peer
// protocol (peer.go: ServePeer on the peer's side; Peer, StartPeer and NewPeer on the coordinator's)
// and pair trials, whose server and client roles run in two peers (pair.go: RunPair, PairTrial). A peer
// takes the same trial lifecycle steps as an in-process trial (harness.Lifecycle).
package peer
