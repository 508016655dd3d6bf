package weir

import (
	"encoding/binary"
	"fmt"
)

// Sizes, in bytes, of the buffers the state calls use.
const (
	initialGetBytes = 256
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
	get     []byte // state_get output
	log     []byte
	scans   []*scanBuf // free list; one in use per nested scan
}

type scanBuf struct{ out, start []byte }

// stateGet returns the value of (name, userKey) for c's entry; the slice is
// valid until the next state call. ABI §5: when the value is larger than the
// buffer, state_get reports its length and is called again with room for it.
func (in *instance) stateGet(c *Context, name, userKey []byte) (value []byte, found bool, err error) {
	s := &in.state
	for {
		n := in.host.stateGet(c.entry, name, userKey, s.get[:cap(s.get)])
		switch {
		case n == -int64(NotFound):
			return nil, false, nil
		case n < 0:
			return nil, false, in.hostFailed(Code(-n), "state_get", name)
		case n <= int64(cap(s.get)):
			return s.get[:n], true, nil
		case n > MaxValueBytes:
			return nil, false, &Error{Code: LimitExceeded, Op: "state_get " + fmt.Sprintf("%q", name),
				Err: fmt.Errorf("the host reports a value of %d bytes, over the limit of %d", n, MaxValueBytes)}
		}
		s.get = make([]byte, n)
	}
}

func (in *instance) statePut(c *Context, name, userKey, value []byte) error {
	if code := in.host.statePut(c.entry, name, userKey, value); code != OK {
		return in.hostFailed(code, "state_put", name)
	}
	return nil
}

func (in *instance) stateDelete(c *Context, name, userKey []byte) error {
	if code := in.host.stateDelete(c.entry, name, userKey); code != OK {
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
