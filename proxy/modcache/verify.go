package modcache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"

	"github.com/modgate/modgate/proxy/checksum"
)

// Problem is a stored artifact that no longer matches its commit record.
type Problem struct {
	Module, Version string
	Kind            Kind
	Reason          string
	Purged          bool
}

func (p Problem) String() string {
	s := fmt.Sprintf("%s@%s %s: %s", p.Module, p.Version, p.Kind, p.Reason)
	if p.Purged {
		s += " (purged)"
	}
	return s
}

// Verify re-checks every committed artifact against its commit record:
// size and SHA-256 for all, and the checksum-database h1 hash for go.mod
// files and zips. With purge, bad artifacts are removed so the next request
// refetches them. It returns the number of artifacts checked.
func (c *Cache) Verify(ctx context.Context, purge bool, report func(Problem)) (int, error) {
	c.init()
	checked := 0
	err := c.Store.Walk(ctx, "mod/", func(key string) error {
		rest, ok := strings.CutSuffix(strings.TrimPrefix(key, "mod/"), ".commit")
		if !ok {
			return nil
		}
		ep, ev, ok := strings.Cut(rest, "/@v/")
		if !ok {
			return nil
		}
		mod, err1 := module.UnescapePath(ep)
		ver, err2 := module.UnescapeVersion(ev)
		if err1 != nil || err2 != nil {
			return nil
		}
		rec, err := c.files.record(ctx, ep, ev)
		if err != nil || rec == nil {
			return err
		}
		for kind, fr := range rec.Files {
			checked++
			reason, err := c.verifyOne(ctx, ep, ev, kind, fr)
			if err != nil {
				return err
			}
			if reason == "" {
				continue
			}
			pr := Problem{Module: mod, Version: ver, Kind: kind, Reason: reason}
			if purge {
				if err := c.files.forget(ctx, ep, ev, kind); err != nil {
					return fmt.Errorf("purge %s@%s %s: %w", mod, ver, kind, err)
				}
				pr.Purged = true
			}
			report(pr)
		}
		return nil
	})
	return checked, err
}

func (c *Cache) verifyOne(ctx context.Context, ep, ev string, kind Kind, fr FileRecord) (string, error) {
	b, err := c.Store.Get(ctx, artifactKey(ep, ev, kind))
	if err != nil {
		return "missing: " + err.Error(), nil
	}
	defer b.Close()
	tmp, err := os.CreateTemp("", "modgate-verify-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(h, tmp), b)
	if err != nil {
		return "unreadable: " + err.Error(), nil
	}
	if n != fr.Size {
		return fmt.Sprintf("size %d, recorded %d", n, fr.Size), nil
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != fr.SHA256 {
		return fmt.Sprintf("sha256 %s, recorded %s", sum[:16], fr.SHA256[:16]), nil
	}
	switch kind {
	case KindMod:
		data, err := os.ReadFile(tmp.Name())
		if err != nil {
			return "", err
		}
		if h1, _ := checksum.ModHash(data); fr.H1 != "" && h1 != fr.H1 {
			return fmt.Sprintf("go.mod hash %s, recorded %s", h1, fr.H1), nil
		}
	case KindZip:
		h1, err := dirhash.HashZip(tmp.Name(), dirhash.Hash1)
		if err != nil {
			return "corrupt zip: " + err.Error(), nil
		}
		if fr.H1 != "" && h1 != fr.H1 {
			return fmt.Sprintf("zip hash %s, recorded %s", h1, fr.H1), nil
		}
	}
	return "", nil
}
