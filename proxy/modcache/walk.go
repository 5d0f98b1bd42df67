package modcache

import (
	"context"
	"slices"
	"strings"

	"golang.org/x/mod/module"
)

// Walk calls fn for every module version with committed artifacts, with
// the kinds committed, in storage key order. It stops at the first error
// fn returns.
func (c *Cache) Walk(ctx context.Context, fn func(mod, version string, kinds []Kind) error) error {
	c.init()
	return c.Store.Walk(ctx, "mod/", func(key string) error {
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
		kinds := make([]Kind, 0, len(rec.Files))
		for k := range rec.Files {
			kinds = append(kinds, k)
		}
		slices.Sort(kinds)
		return fn(mod, ver, kinds)
	})
}
