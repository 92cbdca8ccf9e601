// Package claims measures what KCP's own documents promise, on links kcplab simulates.
//
// The claims:
//
//   - KCP's README: "at the cost of 10-20% more bandwidth than TCP, it gives 30-40% lower average
//     latency and 3x lower maximum latency".
//   - The mode table of its test program (test.cpp): an echo every 20 ms over a link that loses 5%
//     of the datagrams each way and delays each by 30-62.5 ms (RTT 60-125 ms), with windows 128/128,
//     gives average/maximum RTTs of 740/1507 ms in the default mode, 156/571 ms in the normal mode
//     and 138/392 ms in the fast mode.
//
// The roles: a client sends messages (its sequence number, padded to the workload's size) and a
// server echoes them (Echo), or the client sends a block of bytes and the server answers with one
// byte when it has them all (Bulk). Each case runs a workload over one transport (kernel TCP with
// TCP_NODELAY, or KCP in one mode) on one link with one seed:
//
//   - the mode table runs on loopback UDP sockets wrapped by the link, as test.cpp simulates its
//     link inside the process (no root needed);
//   - TCP against KCP runs between two network namespaces joined by TUN devices through the link
//     (package hosts), so both cross the same impaired path and are recorded the same way, as IP
//     packets.
//
// A figure is computed per seed (average, median, p99 and maximum RTT; completion time; bytes on the
// wire per application byte; the data segments sent again, read from the link's packets: retrans.go
// for KCP, tcpretrans.go for TCP) and reported with its interval over the seeds. Verdicts compare the
// published figures with those intervals (verdict.go); the findings are in RESULTS.md.
package claims
