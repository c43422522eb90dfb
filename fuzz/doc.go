// Package fuzz holds cross-layer fuzz harnesses for the RELOAD stack
// (bytes through the codec into the layers above). Per-decoder fuzz targets
// live beside their decoders as FuzzDecodeX.
//
// FuzzHost and FuzzHostStorage are stateful: each input is a sequence of
// events for one deterministic host (package host) with real CHORD-RELOAD
// (RFC 6940 §10) and real storage (§7): hostile requests of every method
// the node handles (§6.4.2, §7.4, §10.7) from authenticated neighbours and
// clients, values with real signatures, forged and replayed (§7.1), the
// answers and timeouts of the node's own requests (§6.2.1), links and
// time. After every event they check chord's ring invariants (§10.7.1),
// one answer per request and bounded outstanding requests; at the end
// every stored value is fetched and verified as a FetchAns receiver would
// (§7.4.2.2).
package fuzz
