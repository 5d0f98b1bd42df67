package facts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/modgate/modgate/internal/lru"
)

// seenRecordName is the module-level record that keeps first-seen times.
const seenRecordName = "firstseen"

// seenRecord tracks when each version of a module first appeared to
// modgate. Its JSON form is stored per module.
type seenRecord struct {
	// Created is modgate's first contact with the module.
	Created time.Time `json:"created"`
	// Listed reports whether a non-empty list was ever recorded; the
	// versions of the first one are Initial if it was made at the first
	// contact.
	Listed   bool                `json:"listed,omitempty"`
	Versions map[string]seenInfo `json:"versions"`
}

type seenInfo struct {
	// First is when modgate first saw the version, listed or requested.
	First time.Time `json:"first"`
	// Initial marks versions that already existed at modgate's first
	// contact with the module: in the listing made then, or never listed
	// and with an .info time before that contact.
	Initial bool `json:"initial,omitempty"`
}

// seenBook keeps the first-seen records: in memory for the hot path, in
// the source's module records for durability.
type seenBook struct {
	src   Source
	log   *slog.Logger
	locks sync.Map // module path -> *sync.Mutex serializing updates

	recs *lru.Cache[string, *seenRecord] // nil records: modules without one
}

func (b *seenBook) lock(path string) *sync.Mutex {
	mu, _ := b.locks.LoadOrStore(path, new(sync.Mutex))
	return mu.(*sync.Mutex)
}

// get returns the module's record, nil if it has none. Records are shared
// and replaced, never modified.
func (b *seenBook) get(ctx context.Context, path string) (*seenRecord, error) {
	rec, ok := b.recs.Get(path)
	if ok {
		return rec, nil
	}
	data, err := b.src.ReadRecord(ctx, path, seenRecordName)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		rec = nil
	case err != nil:
		return nil, fmt.Errorf("%s: reading first-seen times: %w", path, err)
	default:
		var r seenRecord
		if json.Unmarshal(data, &r) == nil && r.Versions != nil {
			rec = &r
		}
	}
	b.remember(path, rec)
	return rec, nil
}

func (b *seenBook) remember(path string, rec *seenRecord) { b.recs.Put(path, rec) }

// observe records the listed versions not seen before (creating the
// module's record at first contact) and returns the record. Only a listing
// made at the first contact says which versions existed then: those of a
// first listing made later (the module had no tag yet, or its list was
// refused or stale) are as new as any other.
func (b *seenBook) observe(ctx context.Context, path string, listed []string, now time.Time) (*seenRecord, error) {
	return b.update(ctx, path, now, func(rec *seenRecord, created bool) bool {
		first := !rec.Listed && len(listed) > 0
		changed := false
		for _, v := range listed {
			if _, ok := rec.Versions[v]; !ok {
				rec.Versions[v] = seenInfo{First: now, Initial: created}
				changed = true
			}
		}
		if first {
			rec.Listed, changed = true, true
		}
		return changed
	})
}

// add records one version that was requested without having been listed.
func (b *seenBook) add(ctx context.Context, path, version string, now time.Time, initial bool) (*seenRecord, error) {
	return b.update(ctx, path, now, func(rec *seenRecord, _ bool) bool {
		if _, ok := rec.Versions[version]; ok {
			return false
		}
		rec.Versions[version] = seenInfo{First: now, Initial: initial}
		return true
	})
}

// update applies fn to a copy of the module's record (a new one at first
// contact, when fn is told created) and stores the result when fn reports
// a change.
func (b *seenBook) update(ctx context.Context, path string, now time.Time, fn func(rec *seenRecord, created bool) bool) (*seenRecord, error) {
	mu := b.lock(path)
	mu.Lock()
	defer mu.Unlock()
	old, err := b.get(ctx, path)
	if err != nil {
		return nil, err
	}
	rec := &seenRecord{Created: now, Versions: map[string]seenInfo{}}
	created := old == nil
	if old != nil {
		rec.Created, rec.Listed = old.Created, old.Listed
		rec.Versions = make(map[string]seenInfo, len(old.Versions)+1)
		for k, v := range old.Versions {
			rec.Versions[k] = v
		}
	}
	if !fn(rec, created) && !created {
		return old, nil
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	// A record that cannot be stored still holds for this process: failing
	// every decision on the module would turn a storage fault into an
	// outage, and the times only ever move later when re-recorded.
	if err := b.src.WriteRecord(context.WithoutCancel(ctx), path, seenRecordName, data); err != nil {
		b.log.Warn("could not persist first-seen times", "module", path, "err", err)
	}
	b.remember(path, rec)
	return rec, nil
}
