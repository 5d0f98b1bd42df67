// Package vulndb owns modgate's copy of the Go vulnerability database:
// loading it from its sources, indexing it for the proxy's per-version
// checks, and serving it in the v1 layout so govulncheck works on runners
// that can reach only modgate.
//
// Sources ([Loader], configured by [Config]):
//   - the golang.org/x/vulndb module (its data/osv/*.json files), fetched
//     through a [ModuleFetcher], by default modgate's own upstream chain;
//     the module's .info time is the snapshot time because the entries'
//     modified fields are zero there;
//   - or a database in the v1 layout at an http(s):// or file:// URL
//     (https://go.dev/security/vuln/database#api);
//   - plus any number of directories of extra OSV files.
//
// A load yields an immutable [Snapshot]: entries, an [Index] answering
// [Index.Affects], and the v1 files. [Refresher] reloads on a cron
// schedule and swaps snapshots atomically, keeping the previous one when a
// load fails. [Handler] serves the current snapshot; [Snapshot.Build]
// writes it to a directory.
//
// Invariants:
//   - Matching follows govulncheck (golang.org/x/vuln): SEMVER ranges are
//     half-open [introduced, fixed) intervals after sorting the events; no
//     ranges, or no SEMVER range, means every version; build metadata such
//     as +incompatible is ignored; withdrawn entries never match. The
//     "fixed" version reported is the one govulncheck reports.
//   - A load that fails in any source fails as a whole: a partial database
//     would let vulnerable versions through unnoticed.
//   - The package decides nothing: policy lives elsewhere.
package vulndb
