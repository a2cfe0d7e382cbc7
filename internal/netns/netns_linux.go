package netns

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// NS is an open handle on a network namespace.
type NS struct {
	path string
	fd   int
}

// Open opens the network namespace at path, e.g. /run/netns/<name> or /proc/<pid>/ns/net.
func Open(path string) (*NS, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening network namespace %s: %w", path, err)
	}
	return &NS{path: path, fd: fd}, nil
}

// Path returns the path the namespace was opened from.
func (ns *NS) Path() string { return ns.path }

// Close releases the handle.
func (ns *NS) Close() error { return unix.Close(ns.fd) }

// Do runs fn with the calling goroutine locked to a thread that is in ns, then moves the thread
// back. Goroutines that fn starts do not run in ns. A nil ns runs fn where the caller is.
//
// If the thread cannot be moved back it stays locked, and the Go runtime ends it when the
// goroutine exits, so no other goroutine ever runs in the wrong namespace.
func (ns *NS) Do(fn func() error) error {
	if ns == nil {
		return fn()
	}
	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("opening the current network namespace: %w", err)
	}
	defer unix.Close(orig)
	if err := unix.Setns(ns.fd, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("entering network namespace %s: %w", ns.path, err)
	}
	defer func() {
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
	}()
	return fn()
}
