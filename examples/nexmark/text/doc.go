// Package text turns the Nexmark queries' result records into their canonical
// text (docs/nexmark.md §8), for job specs that write readable output: put it
// after a query's last operator and before a file sink.
package text
