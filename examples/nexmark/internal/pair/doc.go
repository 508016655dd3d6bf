// Package pair is a state codec for two int64s, for the Nexmark operators: a
// fixed 16 bytes, big-endian with the sign bits flipped, so that pairs sort by
// their first then second number when used as map-state keys. Decoding does
// not allocate (the SDK's Bytes and JSON codecs do).
package pair
