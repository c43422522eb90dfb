// Package redir is the service discovery usage of RELOAD (RFC 7374): the
// Recursive Distributed Rendezvous (ReDiR) tree of the providers of a
// service, stored in the overlay under the REDIR Kind.
//
// What it owns:
//
//   - the tree arithmetic of RFC 7374 §3: tree node (level,j) of a
//     namespace, the b intervals it holds for branching factor b (the
//     redir:branching-factor of §8, default 10), the interval I(level,k)
//     that encloses a key, and the Resource-ID H(namespace,level,j) of a
//     tree node (Tree);
//   - service registration (§4.3: fetch and store at the starting level,
//     the upward walk while the provider is the lowest or highest Node-ID
//     of its interval, the downward walk until it is alone in its
//     interval), its periodic refresh before the records' lifetime ends
//     (§4.4) and the removal of the records (§4.6) (Client.Register,
//     Client.Keep, Client.Remove);
//   - service lookup (§4.5: Conditions 1 to 3, with the temporary cache of
//     the entries seen during the walk as the fallback the section allows)
//     and the starting levels of §4.2 (Lstart = 2; for lookups the mode of
//     the levels of the last 16 lookups) (Client.Lookup).
//
// The values are wire.RedirServiceProvider records (§4.1) in a dictionary
// keyed by the provider's Node-ID (§6); the storing peers enforce the
// NODE-ID-MATCH policy of §5 (package storage).
//
// Layering: redir is a usage (STYLE.md §1). It imports wire and storage
// only; it must not import transport, forwarding or topology. It reaches
// the overlay only through the Overlay interface it declares (Store and
// Fetch as the node signs and verifies them), which the node layer
// implements.
package redir
