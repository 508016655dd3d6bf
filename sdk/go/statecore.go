package weir

import (
	"encoding/binary"
	"fmt"
)

// Sizes, in bytes, of the buffers the state calls use.
const (
	// initialGetBytes is the first size of the state_get output buffer: a
	// value up to this size takes one host call.
	initialGetBytes = 4 << 10
	// maxRetainedGetBytes bounds the state_get buffer an instance keeps: a
	// read of a larger value uses a buffer of its own, and takes two host
	// calls each time.
	maxRetainedGetBytes = 1 << 20
	// scanBufBytes is the first size of a state_scan output buffer.
	scanBufBytes = 64 << 10
	// maxScanBufBytes is the size that holds any one pair within the limits of
	// ABI §9; state_scan buffers double up to it (ABI §5.1).
	maxScanBufBytes = 8 + MaxKeyBytes + MaxValueBytes
	// maxRetainedScanBytes bounds the scan buffer an instance keeps after a
	// scan that needed more.
	maxRetainedScanBytes = 1 << 20
)

// stateScratch holds an instance's reusable buffers for state calls, so that a
// state read or write does not allocate once they have grown.
type stateScratch struct {
	userKey []byte
	value   []byte
	fixed   [8]byte // the encoding of a fixed-size value (ValueState.Set)
	// get is the state_get output buffer, used at its full length; it grows
	// to the largest value read, up to maxRetainedGetBytes.
	get   []byte
	log   []byte
	scans []*scanBuf // free list; one in use per nested scan
	// callName and call are the endpoint name and the response buffer of
	// Context.Call.
	callName []byte
	call     []byte
}

// putFixed stores x big-endian in fixed and returns it: the encoding of an
// 8-byte value (see fixedCodec).
func (sc *stateScratch) putFixed(x uint64) []byte {
	binary.BigEndian.PutUint64(sc.fixed[:], x)
	return sc.fixed[:]
}

type scanBuf struct{ out, start []byte }

// stateGet returns the value of (name, userKey) for c's entry; the slice is
// valid until the next state call. ABI §5: when the value is larger than the
// buffer, state_get reports its length and is called again with room for it.
func (in *instance) stateGet(c *Context, name, userKey []byte) (value []byte, found bool, err error) {
	out := in.state.get
	var n int64
	if wasmBuild && in.directCalls {
		n = wasmStateGet(c.entry, ptr(name), size(name), ptr(userKey), size(userKey), ptr(out), size(out))
	} else {
		n = in.host.stateGet(c.entry, name, userKey, out)
	}
	if uint64(n) <= uint64(len(out)) {
		return out[:n], true, nil
	}
	return in.stateGetAgain(c, name, userKey, n)
}

// stateGetAgain finishes a state_get whose first call returned n, which is
// not a value that fit the buffer: NOT_FOUND, another error, or the length of
// a value too large for it, which it reads again into a buffer of that size.
func (in *instance) stateGetAgain(c *Context, name, userKey []byte, n int64) (value []byte, found bool, err error) {
	for {
		switch {
		case n == -int64(NotFound):
			return nil, false, nil
		case n < 0:
			return nil, false, in.hostFailed(Code(-n), "state_get", name)
		case n > MaxValueBytes:
			return nil, false, &Error{Code: LimitExceeded, Op: "state_get " + fmt.Sprintf("%q", name),
				Err: fmt.Errorf("the host reports a value of %d bytes, over the limit of %d", n, MaxValueBytes)}
		}
		out := make([]byte, n)
		if n <= maxRetainedGetBytes {
			// Keep it: values of this size are likely to be read again.
			out = out[:cap(out)]
			in.state.get = out
		}
		if n = in.host.stateGet(c.entry, name, userKey, out); uint64(n) <= uint64(len(out)) {
			return out[:n], true, nil
		}
		// The value changed size between the two calls (it cannot within one
		// batch, but a host is not bound to that): try again.
	}
}

func (in *instance) statePut(c *Context, name, userKey, value []byte) error {
	var code Code
	if wasmBuild && in.directCalls {
		code = Code(wasmStatePut(c.entry, ptr(name), size(name), ptr(userKey), size(userKey), ptr(value), size(value)))
	} else {
		code = in.host.statePut(c.entry, name, userKey, value)
	}
	if code != OK {
		return in.hostFailed(code, "state_put", name)
	}
	return nil
}

func (in *instance) stateDelete(c *Context, name, userKey []byte) error {
	var code Code
	if wasmBuild && in.directCalls {
		code = Code(wasmStateDelete(c.entry, ptr(name), size(name), ptr(userKey), size(userKey)))
	} else {
		code = in.host.stateDelete(c.entry, name, userKey)
	}
	if code != OK {
		return in.hostFailed(code, "state_delete", name)
	}
	return nil
}

func (in *instance) stateClear(c *Context, name []byte) error {
	if code := in.host.stateClear(c.entry, name); code != OK {
		return in.hostFailed(code, "state_clear", name)
	}
	return nil
}

// stateScan calls fn for each (user key, value) of state name for c's entry
// with user key >= start, in ascending byte order, until fn returns false or
// an error. It reads ahead in chunks with state_scan, doubling the buffer when
// a pair does not fit and continuing after the last key of each chunk
// (ABI §5.1).
//
// fn runs outside any host call, so it may read and write state, including
// state name: pairs already passed are not revisited, and pairs written ahead
// of the current position may or may not be seen. The slices passed to fn are
// valid during the call only.
func (in *instance) stateScan(c *Context, name, start []byte, fn func(userKey, value []byte) (bool, error)) error {
	sb := in.takeScanBuf()
	defer in.putScanBuf(sb)
	sb.start = append(sb.start[:0], start...)
	for {
		r := in.host.stateScan(c.entry, name, sb.start, sb.out)
		if r < 0 {
			code := Code(-r)
			if code != BufferTooSmall {
				return in.hostFailed(code, "state_scan", name)
			}
			if len(sb.out) >= maxScanBufBytes {
				return &Error{Code: LimitExceeded, Op: fmt.Sprintf("state_scan %q", name),
					Err: fmt.Errorf("a pair does not fit in %d bytes, the most a pair within the limits takes", len(sb.out))}
			}
			sb.out = make([]byte, min(2*len(sb.out), maxScanBufBytes))
			continue
		}
		written, more := uint64(r)&0xffffffff, r>>32 != 0
		if written > uint64(len(sb.out)) || (more && written == 0) {
			return in.hostFailed(Internal, "state_scan", name)
		}
		chunk := sb.out[:written]
		var last []byte
		for len(chunk) > 0 {
			k, v, rest, ok := splitPair(chunk)
			if !ok {
				return in.hostFailed(Internal, "state_scan", name)
			}
			last, chunk = k, rest
			if cont, err := fn(k, v); err != nil || !cont {
				return err
			}
		}
		if !more {
			return nil
		}
		sb.start = append(append(sb.start[:0], last...), 0)
	}
}

// splitPair splits the first `u32 ukey_len, ukey, u32 value_len, value` pair
// off b.
func splitPair(b []byte) (userKey, value, rest []byte, ok bool) {
	var f [2][]byte
	for i := range f {
		if len(b) < 4 {
			return nil, nil, nil, false
		}
		n := uint64(binary.LittleEndian.Uint32(b))
		if n > uint64(len(b)-4) {
			return nil, nil, nil, false
		}
		f[i], b = b[4:4+n:4+n], b[4+n:]
	}
	return f[0], f[1], b, true
}

func (in *instance) takeScanBuf() *scanBuf {
	s := &in.state
	if n := len(s.scans); n > 0 {
		sb := s.scans[n-1]
		s.scans = s.scans[:n-1]
		return sb
	}
	return &scanBuf{out: make([]byte, scanBufBytes)}
}

func (in *instance) putScanBuf(sb *scanBuf) {
	if len(sb.out) > maxRetainedScanBytes {
		sb.out = make([]byte, scanBufBytes)
	}
	in.state.scans = append(in.state.scans, sb)
}
