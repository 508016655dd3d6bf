// Package dashboard is the web dashboard of `weir server`: static files
// embedded in the binary (no build step, no npm: plain HTML, CSS and
// JavaScript), served under /ui/, that talk to the same weir.v1 API as the CLI,
// in its Connect JSON form (POST /weir.v1.<Service>/<Method>). There is no
// second API: everything the page shows, the CLI can show too.
//
// The page shows the jobs (state, uptime, restarts, newest checkpoint; a page
// at a time, paged and filtered by the server like the dead letters), one
// job's graph with per-node records and records per second, its module
// history, its checkpoints (duration, size, incremental bytes, alignment, the
// failed ones) with a savepoint button, and the module store. It refreshes
// itself every second.
package dashboard
