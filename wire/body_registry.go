package wire

// newBody is extended as body types land.
func newBody(c MessageCode, idLen int) (Body, bool) {
	_ = idLen
	return nil, false
}

// NewExtension returns a new value for the contents of a message extension
// of type t inside a message with code c, or false when t is unknown here.
func NewExtension(t MessageExtensionType, c MessageCode) (Body, bool) {
	return newExtension(t, c)
}

func newExtension(t MessageExtensionType, c MessageCode) (Body, bool) {
	_, _ = t, c
	return nil, false
}
