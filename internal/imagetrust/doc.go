// Package imagetrust is the front end of image trust: it asks registries what the policy engine
// needs to know about images (the digest a tag names, the image's signatures and attestations),
// through one bounded, cached and coalesced path shared by admission, the background audit and
// `outrider scan`. The engine (internal/policy) stays pure: it judges what was gathered here.
package imagetrust
