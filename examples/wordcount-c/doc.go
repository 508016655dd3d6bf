// Package wordcountc is the word-count example with its operators written in
// C against the Weir C SDK (sdk/c/weir.h): split/split.c splits lines into
// lower-case words, count/count.c counts them per word (keyed state and an
// end-of-input timer, or a running count with {"mode": "running"}). job.yaml
// runs them on ../wordcount/input.txt; the test builds both with clang and
// runs them through the real host and engine, alone and next to the Go build
// of the count operator.
package wordcountc
