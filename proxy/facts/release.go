package facts

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/mod/module"
)

// Release bases: how [Release.At] was obtained.
const (
	// BasisFirstSeen: the version appeared after modgate's first contact
	// with the module; its age runs from when modgate first saw it (its
	// backdatable .info time is not trusted).
	BasisFirstSeen = "first_seen"
	// BasisInfo: the version already existed at first contact; its age
	// runs from its .info time (or from the first contact, if earlier).
	BasisInfo = "info"
	// BasisFirstContact: the version already existed at first contact,
	// which is long enough ago that its .info time was not needed; its
	// age runs from the first contact (a lower bound).
	BasisFirstContact = "first_contact"
	// BasisUnknown: the version already existed at first contact, but
	// its .info time could not be obtained (the upstream refused it).
	BasisUnknown = "unknown"
)

// Release is when a version was released, as far as modgate can tell.
type Release struct {
	// FirstSeen is when modgate first saw the version, listed or
	// requested.
	FirstSeen time.Time
	// Initial reports that the version already existed at modgate's
	// first contact with the module: it was in the listing modgate made
	// then, or it was never listed and its .info time predates that
	// contact.
	Initial bool
	// FirstContact is modgate's first contact with the module.
	FirstContact time.Time
	// Time is the version's .info time (a commit time its author
	// controls); zero when it was not needed and is not cached.
	Time time.Time
	// At is the release time ages are measured from; zero when unknown
	// (Basis is BasisUnknown).
	At time.Time
	// Basis says how At was obtained (one of the Basis constants).
	Basis string
}

// listRecheck is how old a list may be before a tag modgate has not seen
// listed makes it look again: any age. Such a tag is either brand new (the
// list must be read now, or a backdated .info time would pass for an old
// release) or not listed at all; the fetch is shared by concurrent
// requests, and it only happens for a version the source has just served.
const listRecheck = 0

// Release returns the release facts of m.Path@version, recording the
// version as first seen now if modgate never saw it. For a version that
// existed at first contact the .info time is fetched only while the first
// contact is less than window ago (the longest cooldown: an older first
// contact bounds the age by itself), so list filtering fetches no more
// .info files than a cooldown needs.
func (s *Service) Release(ctx context.Context, m *Module, version string, window time.Duration) (Release, error) {
	s.init()
	now := s.now().UTC()
	rec, err := s.seen.get(ctx, m.Path)
	if err != nil {
		return Release{}, err
	}
	si, ok := lookup(rec, version)
	if !ok && m.Listed && !module.IsPseudoVersion(version) {
		// A tag modgate has not seen listed may be brand new: look at
		// the list again before deciding how old it is.
		if l, err := s.Source.Refresh(ctx, m.Path, listRecheck); err == nil {
			if rec, err = s.seen.observe(ctx, m.Path, tagged(l.Versions), now); err != nil {
				return Release{}, err
			}
			si, ok = lookup(rec, version)
		}
	}
	var rel Release
	if !ok {
		// Never listed (a pseudo-version, or a module whose upstream
		// does not list it): new, unless its .info time predates the
		// first contact. Without a cooldown window nothing needs the
		// time, so the .info is not fetched (and the version counts
		// as first seen now, which only makes a later cooldown stricter).
		var t time.Time
		if window > 0 {
			if t, err = s.infoTime(ctx, m.Path, version); err != nil {
				return Release{}, err
			}
		}
		created := now
		if rec != nil {
			created = rec.Created
		}
		if rec, err = s.seen.add(ctx, m.Path, version, now, !t.IsZero() && t.Before(created)); err != nil {
			return Release{}, err
		}
		si, _ = lookup(rec, version)
		rel.Time = t
	}
	rel.FirstSeen, rel.Initial, rel.FirstContact = si.First, si.Initial, rec.Created
	if rel.Time.IsZero() {
		rel.Time, _ = s.Source.CachedTime(ctx, m.Path, version)
	}
	if !rel.Initial {
		rel.At, rel.Basis = rel.FirstSeen, BasisFirstSeen
		return rel, nil
	}
	recent := now.Sub(rec.Created) < window
	if rel.Time.IsZero() && recent {
		if rel.Time, err = s.infoTime(ctx, m.Path, version); err != nil {
			return Release{}, err
		}
	}
	switch {
	case !rel.Time.IsZero():
		rel.At, rel.Basis = minTime(rel.Time, rec.Created), BasisInfo
	case !recent:
		rel.At, rel.Basis = rec.Created, BasisFirstContact
	default:
		rel.Basis = BasisUnknown
	}
	return rel, nil
}

// Time returns the .info time of mod@version (a commit time its author
// controls), fetching the .info once; zero when the source refuses it.
func (s *Service) Time(ctx context.Context, mod, version string) (time.Time, error) {
	return s.infoTime(ctx, mod, version)
}

// infoTime fetches a version's .info time; zero when the source refuses
// it (the time cannot be obtained), an error on an outage.
func (s *Service) infoTime(ctx context.Context, mod, version string) (time.Time, error) {
	t, err := s.Source.Time(ctx, mod, version)
	switch {
	case refused(err):
		return time.Time{}, nil
	case err != nil:
		return time.Time{}, fmt.Errorf("%s@%s: reading the release time: %w", mod, version, err)
	}
	return t, nil
}

func lookup(rec *seenRecord, version string) (seenInfo, bool) {
	if rec == nil {
		return seenInfo{}, false
	}
	si, ok := rec.Versions[version]
	return si, ok
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
