package node

import (
	"errors"
	"io"
	"net"
)

// releases is a stack of what a Node holds: New pushes the release of each
// resource as it acquires it (storage file, sockets, engine, SIP front end
// and its bindings file, the wait for the node's goroutines). When a later
// step of New fails, the stack is released at once; else Close releases
// it. Releasing runs the entries newest first, so that nothing is closed
// while something opened after it still uses it.
type releases []func() error

func (r *releases) push(f func() error) { *r = append(*r, f) }

// release runs every entry, newest first, empties the stack and returns
// the entries' errors joined.
func (r *releases) release() error {
	var errs []error
	for i := len(*r) - 1; i >= 0; i-- {
		errs = append(errs, (*r)[i]())
	}
	*r = nil
	return errors.Join(errs...)
}

// closeOwned is the release of a socket that the forwarding engine takes
// over once it is made (and closes itself): closing it again is not an
// error.
func closeOwned(c io.Closer) func() error {
	return func() error {
		if err := c.Close(); !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	}
}
