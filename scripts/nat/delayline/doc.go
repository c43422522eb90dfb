// Command delayline joins two network interfaces like a cable with delay
// and random loss, for kernels without tc netem: every Ethernet frame
// received on one interface is sent out of the other after a fixed delay,
// or dropped with the given probability, in both directions. It reads and
// writes raw frames with AF_PACKET sockets (Linux only, root), and runs
// until interrupted. Checksum and segmentation offloads must be off on
// the interfaces that feed it, as scripts/netns-nat.sh does with ethtool:
// frames are copied as they are.
//
// Usage: delayline -a IFACE -b IFACE [-delay 50ms] [-loss 15]
//
// It stands in for tc netem (delay, loss) in the link-layer tests of RFC
// 6940 §6.6.3 retransmission that scripts/netns-nat.sh runs.
package main
