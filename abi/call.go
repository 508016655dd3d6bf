package abi

import "encoding/binary"

// CallResponseHeaderBytes is the size of the status that starts a response of
// the call host function (ABI.md §5.3).
const CallResponseHeaderBytes = 4

// AppendCallResponse appends the encoding of a call's response (ABI.md §5.3)
// to dst: u32 status, then the body.
func AppendCallResponse(dst []byte, status uint32, body []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, status)
	return append(dst, body...)
}

// ParseCallResponse splits an encoded call response into its status and body
// (which aliases b); ok is false if b is shorter than the status.
func ParseCallResponse(b []byte) (status uint32, body []byte, ok bool) {
	if len(b) < CallResponseHeaderBytes {
		return 0, nil, false
	}
	return binary.LittleEndian.Uint32(b), b[CallResponseHeaderBytes:], true
}
