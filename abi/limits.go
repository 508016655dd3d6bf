package abi

import "math"

// Default limits of ABI v1 (ABI.md §9). A job may lower them per operator.
const (
	MaxKeyBytes       = 64 << 10 // entry keys and user keys
	MaxValueBytes     = 16 << 20 // record values and state values
	MaxEmitBytes      = 64 << 20 // sum of emitted batch bytes in one call
	MaxStateNameBytes = 255
	MaxPort           = 255
	// MaxBatchEntries bounds the entries of one batch so that a count read from
	// untrusted bytes cannot make a reader allocate without bound.
	MaxBatchEntries = 1 << 20
)

// NoTimestamp marks a record without event time, and a watermark not yet known.
const NoTimestamp int64 = math.MinInt64

// MaxWatermark is the watermark that ends event time: every event-time timer fires.
const MaxWatermark int64 = math.MaxInt64

// Kind is the kind of a batch entry (ABI.md §4.2).
type Kind uint8

// Entry kinds.
const (
	KindRecord         Kind = 0
	KindEventTimer     Kind = 1
	KindProcessingTime Kind = 2
)

// String returns the name of k.
func (k Kind) String() string {
	switch k {
	case KindRecord:
		return "record"
	case KindEventTimer:
		return "event-time timer"
	case KindProcessingTime:
		return "processing-time timer"
	}
	return "invalid kind"
}

// KeyGroup returns the key group of key for maxParallelism (ABI.md §6):
// FNV-1a 64 of the key, modulo maxParallelism.
func KeyGroup(key []byte, maxParallelism int) int {
	return int(Hash(key) % uint64(maxParallelism))
}

// Hash is FNV-1a, 64-bit: the key hash of ABI.md §6. It does not allocate.
func Hash(key []byte) uint64 {
	h := uint64(0xcbf29ce484222325)
	for _, c := range key {
		h ^= uint64(c)
		h *= 0x100000001b3
	}
	return h
}
