// Package version holds the version of this Outrider build, set at link time with
// -ldflags "-X github.com/outrider-sec/outrider/internal/version.Version=v1.2.3".
package version

import "runtime/debug"

// Version is the release, or "dev" for a build from source without -ldflags.
var Version = "dev"

// String returns the version, with the VCS revision when the build recorded one.
func String() string {
	if Version != "dev" {
		return Version
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return Version
}
