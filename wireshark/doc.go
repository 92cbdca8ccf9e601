// Package wireshark holds kcp.lua, a Wireshark/tshark dissector for kcp-go traffic (plain,
// FEC and encrypted framings, with a heuristic for UDP), and the test that checks it against
// kcplab's own decoder on captures of real kcp-go sessions. It has no Go API.
package wireshark
