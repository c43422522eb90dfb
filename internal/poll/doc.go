// Package poll is what the tests of several layers share to wait for a
// state over real sockets and processes: they poll for the event they
// need instead of sleeping a guessed time.
package poll
