package node

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/goreload/reload/storage"
	"github.com/goreload/reload/usage/redir"
	"github.com/goreload/reload/wire"
)

// ErrNoRedirKind: the overlay's configuration does not define the REDIR
// Kind (RFC 7374 §6), so service discovery cannot be used.
var ErrNoRedirKind = errors.New("node: the overlay configuration has no REDIR kind (RFC 7374 §6)")

// redirState is the service discovery state of one Node: the lookup
// client and the registrations being kept. It hangs off the Node in
// redirStates rather than in the Node itself, created on first use.
type redirState struct {
	mu     sync.Mutex
	lookup *redir.Client
	kept   map[string]*keptService
}

type keptService struct {
	client *redir.Client
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	last   *redir.Registration
	err    error
	stored map[int]uint16
}

// redirStates maps *Node to *redirState; an entry goes when its node's
// context ends.
var redirStates sync.Map

func (n *Node) redirState() *redirState {
	if s, ok := redirStates.Load(n); ok {
		return s.(*redirState)
	}
	s, loaded := redirStates.LoadOrStore(n, &redirState{kept: map[string]*keptService{}})
	if !loaded {
		go func() {
			<-n.ctx.Done()
			redirStates.Delete(n)
		}()
	}
	return s.(*redirState)
}

// redirOverlay is what the service discovery usage needs of the node.
type redirOverlay struct{ n *Node }

func (o redirOverlay) LocalNodeID() wire.NodeID { return o.n.ID() }

func (o redirOverlay) Store(ctx context.Context, res wire.ResourceID, kind wire.KindID, values []wire.StoredDataValue, lifetime time.Duration) error {
	_, err := o.n.Store(ctx, res, kind, values, lifetime)
	return err
}

// Fetch returns the values of kind at res that passed verification
// (NODE-ID-MATCH included, RFC 7374 §5) and exist.
func (o redirOverlay) Fetch(ctx context.Context, res wire.ResourceID, kind wire.KindID) ([]wire.StoredData, error) {
	return o.n.fetchExisting(ctx, res, kind)
}

// newRedirClient makes a ReDiR client with the overlay's branching
// factor (RFC 7374 §8).
func (n *Node) newRedirClient(lifetime time.Duration) (*redir.Client, error) {
	k, ok := n.kinds.Lookup(wire.KindREDIR)
	if !ok || k.Policy != storage.PolicyNodeIDMatch {
		return nil, ErrNoRedirKind
	}
	return redir.New(redirOverlay{n}, redir.Config{Branching: k.BranchingFactor, Hash: storage.ChordHash, Lifetime: lifetime})
}

// RegisterService registers this node as a provider of the service
// namespace ns in the overlay's ReDiR tree (RFC 7374 §4.3) and keeps the
// registration alive, repeating it at 90% of lifetime (§4.4; 0 means the
// recommended 10 minutes), until UnregisterService or the node closes.
// The first registration pass runs before RegisterService returns; its
// outcome is returned. Registering a namespace again replaces the
// earlier registration (its records are left to expire or be
// overwritten).
func (n *Node) RegisterService(ctx context.Context, ns string, lifetime time.Duration) (*redir.Registration, error) {
	c, err := n.newRedirClient(lifetime)
	if err != nil {
		return nil, err
	}
	reg, err := c.Register(ctx, ns, nil)
	if err != nil {
		return reg, err
	}
	st := n.redirState()
	kctx, cancel := context.WithCancel(n.ctx)
	ks := &keptService{client: c, cancel: cancel, done: make(chan struct{}), last: reg, stored: maps.Clone(reg.Stored)}
	st.mu.Lock()
	old := st.kept[ns]
	st.kept[ns] = ks
	st.mu.Unlock()
	if old != nil {
		old.cancel()
	}
	go func() {
		defer close(ks.done)
		c.Keep(kctx, ns, nil, reg, false, func(r *redir.Registration, err error) {
			ks.mu.Lock()
			defer ks.mu.Unlock()
			ks.err = err
			if r != nil {
				ks.last = r
				for l, nd := range r.Stored {
					ks.stored[l] = nd
				}
			}
			if err != nil {
				n.log.Warn("service registration refresh failed (RFC 7374 §4.4)", "namespace", ns, "err", err)
			}
		})
	}()
	return reg, nil
}

// StopService stops refreshing the registration of ns without removing
// its records, which then expire at the end of their lifetime (RFC 7374
// §4.4). It reports whether ns was registered.
func (n *Node) StopService(ns string) bool {
	st := n.redirState()
	st.mu.Lock()
	ks := st.kept[ns]
	delete(st.kept, ns)
	st.mu.Unlock()
	if ks == nil {
		return false
	}
	ks.cancel()
	<-ks.done
	return true
}

// UnregisterService stops refreshing the registration of ns and removes
// its records by storing exists=False in their place (RFC 7374 §4.6).
func (n *Node) UnregisterService(ctx context.Context, ns string) error {
	st := n.redirState()
	st.mu.Lock()
	ks := st.kept[ns]
	st.mu.Unlock()
	if ks == nil {
		return fmt.Errorf("node: service %q is not registered", ns)
	}
	n.StopService(ns)
	ks.mu.Lock()
	reg := &redir.Registration{Namespace: ns, Stored: maps.Clone(ks.stored)}
	ks.mu.Unlock()
	return ks.client.Remove(ctx, reg)
}

// Services lists the namespaces this node keeps registered.
func (n *Node) Services() []string {
	st := n.redirState()
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]string, 0, len(st.kept))
	for ns := range st.kept {
		out = append(out, ns)
	}
	slices.Sort(out)
	return out
}

// LookupService finds the provider of ns whose Node-ID is the closest
// successor of key (RFC 7374 §4.5); a zero key means this node's
// Node-ID. redir.ErrNoProvider reports an empty tree.
func (n *Node) LookupService(ctx context.Context, ns string, key wire.NodeID) (*redir.Lookup, error) {
	st := n.redirState()
	st.mu.Lock()
	if st.lookup == nil {
		c, err := n.newRedirClient(0)
		if err != nil {
			st.mu.Unlock()
			return nil, err
		}
		st.lookup = c
	}
	c := st.lookup
	st.mu.Unlock()
	if key.IsZero() {
		key = n.ID()
	}
	return c.Lookup(ctx, ns, key)
}

// serviceJSON is a registration in the control API's answers.
type serviceJSON struct {
	Namespace string         `json:"namespace"`
	NodeID    string         `json:"node_id"`
	Lifetime  int            `json:"lifetime_s"`
	Levels    map[int]uint16 `json:"levels"`
	Stats     redir.Stats    `json:"requests"`
}

// providerJSON is a lookup's answer in the control API.
type providerJSON struct {
	Namespace    string      `json:"namespace"`
	Key          string      `json:"key"`
	NodeID       string      `json:"provider"`
	Destinations []string    `json:"destinations"`
	Level        int         `json:"level"`
	Cached       bool        `json:"from_cache"`
	Lifetime     uint32      `json:"lifetime_s"`
	Stats        redir.Stats `json:"requests"`
}

// handleServiceControl adds the service discovery endpoints (RFC 7374)
// to the control API:
//
//	POST /service/register?namespace=NS[&lifetime=S]
//	POST /service/unregister?namespace=NS[&keep=1]  (keep: stop refreshing, let the records expire)
//	GET  /service/lookup?namespace=NS[&key=HEX]
//	GET  /service/list
func (n *Node) handleServiceControl(mux *http.ServeMux) {
	badRequest := func(w http.ResponseWriter, msg string) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": msg})
	}
	mux.HandleFunc("POST /service/register", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		ns := q.Get("namespace")
		if ns == "" {
			badRequest(w, "namespace is required")
			return
		}
		var life time.Duration
		if s := q.Get("lifetime"); s != "" {
			v, err := strconv.ParseUint(s, 10, 32)
			if err != nil || v == 0 {
				badRequest(w, "lifetime must be a positive number of seconds")
				return
			}
			life = time.Duration(v) * time.Second
		}
		reg, err := n.RegisterService(r.Context(), ns, life)
		if err != nil {
			writeServiceErr(w, err)
			return
		}
		if life == 0 {
			life = redir.DefaultLifetime
		}
		writeJSON(w, http.StatusOK, serviceJSON{Namespace: ns, NodeID: n.ID().String(), Lifetime: int(life / time.Second),
			Levels: reg.Stored, Stats: reg.Stats})
	})
	mux.HandleFunc("POST /service/unregister", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		ns := q.Get("namespace")
		if ns == "" {
			badRequest(w, "namespace is required")
			return
		}
		if q.Get("keep") != "" {
			if !n.StopService(ns) {
				writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("service %q is not registered", ns)})
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"namespace": ns, "removed": false})
			return
		}
		if err := n.UnregisterService(r.Context(), ns); err != nil {
			writeServiceErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"namespace": ns, "removed": true})
	})
	mux.HandleFunc("GET /service/lookup", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		ns := q.Get("namespace")
		if ns == "" {
			badRequest(w, "namespace is required")
			return
		}
		var key wire.NodeID
		if s := q.Get("key"); s != "" {
			var err error
			self := n.ID()
			if key, err = wire.ParseNodeID(s); err != nil || key.Len() != self.Len() {
				badRequest(w, fmt.Sprintf("key %q is not a Node-ID of %d bytes in hexadecimal", s, self.Len()))
				return
			}
		}
		l, err := n.LookupService(r.Context(), ns, key)
		if err != nil {
			writeServiceErr(w, err)
			return
		}
		if key.IsZero() {
			key = n.ID()
		}
		out := providerJSON{Namespace: ns, Key: key.String(), NodeID: l.Provider.NodeID.String(), Level: l.Level,
			Cached: l.Cached, Lifetime: l.Provider.Lifetime, Stats: l.Stats, Destinations: []string{}}
		for _, d := range l.Provider.Destinations() {
			out.Destinations = append(out.Destinations, d.String())
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /service/list", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"services": n.Services()})
	})
}

// writeServiceErr answers 404 for an empty tree or an unregistered
// service, 400 for a bad namespace or an overlay without REDIR, and as
// writeErr otherwise.
func writeServiceErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, redir.ErrNoProvider):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
	case errors.Is(err, redir.ErrNamespace), errors.Is(err, ErrNoRedirKind):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	default:
		writeErr(w, err)
	}
}
