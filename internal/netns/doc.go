// Package netns runs code in another Linux network namespace. A socket belongs for its whole
// life to the namespace of the thread that created it, so a listener or dialed connection made
// inside Do keeps working from any goroutine afterwards.
package netns
