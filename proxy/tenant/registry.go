package tenant

import "sync/atomic"

// Registry holds the current Snapshot; readers never block writers. The zero
// value is an empty registry (every host unknown).
type Registry struct {
	cur atomic.Pointer[Snapshot]
}

// Lookup finds the domain serving host (a Host header value: any case,
// optional port); nil means unknown (answer 404). It does not allocate.
func (r *Registry) Lookup(host []byte) *Domain {
	return r.cur.Load().Lookup(host)
}

// Snapshot returns the current snapshot (nil before the first Swap).
func (r *Registry) Snapshot() *Snapshot { return r.cur.Load() }

// Swap makes s current. In-flight requests keep the snapshot they loaded.
func (r *Registry) Swap(s *Snapshot) { r.cur.Store(s) }
