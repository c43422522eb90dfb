package transport

import "github.com/goreload/reload/wire"

// LinkObserver watches the framing layer (RFC 6940 §6.6.2) of every link
// made with a Config, for a conformance monitor. It observes only: it
// cannot change, delay or drop a frame. A nil Config.Observer costs one
// nil check per frame.
type LinkObserver interface {
	// ObserveLink is called once for each link when it comes up, before
	// its first frame; the FrameObserver it returns (nil for none) is
	// told of that link's frames.
	ObserveLink(l *Link) FrameObserver
}

// FrameObserver is told of one link's frames. Its methods are called
// from the link's goroutines, concurrently with each other, and must
// return quickly. The frame's Message belongs to the link: an observer
// copies what it keeps. Frames are passed by value so that the call
// does not move the link's frame to the heap when no one observes.
type FrameObserver interface {
	// FrameReceived is a frame just read from the peer, before the link
	// acts on it.
	FrameReceived(f wire.FramedMessage)
	// FrameSent is a frame the link is about to write (on a stream link
	// a data frame's Message is left out: only its sequence number is
	// given).
	FrameSent(f wire.FramedMessage)
}
