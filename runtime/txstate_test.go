package runtime

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand"
	"testing"
)

// TestTxStateModel runs random writes through a txState, committing or
// rolling back each transaction, and checks every read (inside and outside
// transactions) against two plain backends: one that got only the committed
// transactions' writes, and one that also has the open transaction's.
func TestTxStateModel(t *testing.T) {
	for seed := int64(1); seed <= 200; seed++ {
		rng := rand.New(rand.NewSource(seed))
		base := &mapBackend{m: map[string][]byte{}}
		tx := newTxState(base)
		var view *mapBackend // base + the open transaction's writes
		key := func() []byte { return []byte{byte('a' + rng.Intn(6)), byte('a' + rng.Intn(3))} }
		check := func(step int) {
			want := base
			if view != nil {
				want = view
			}
			for i := 0; i < 3; i++ {
				k := key()
				v, ok, _ := tx.Get(k)
				wv, wok, _ := want.Get(k)
				if ok != wok || !bytes.Equal(v, wv) {
					t.Fatalf("seed %d step %d: Get(%s) = %q, %v; want %q, %v", seed, step, k, v, ok, wv, wok)
				}
			}
			s, e := key(), key()
			if bytes.Compare(s, e) > 0 {
				s, e = e, s
			}
			limit := 1 + rng.Intn(8)
			scan := func(b StateBackend) string {
				var out bytes.Buffer
				n := 0
				b.Scan(s, e, func(k, v []byte) bool {
					fmt.Fprintf(&out, "%s=%s ", k, v)
					n++
					return n < limit
				})
				return out.String()
			}
			if got, w := scan(tx), scan(want); got != w {
				t.Fatalf("seed %d step %d: Scan(%s, %s) limit %d = %q; want %q", seed, step, s, e, limit, got, w)
			}
		}
		for step := 0; step < 300; step++ {
			switch op := rng.Intn(12); {
			case op == 0 && view == nil:
				tx.begin()
				view = &mapBackend{m: maps.Clone(base.m)}
			case op == 1 && view != nil:
				if err := tx.commit(); err != nil {
					t.Fatal(err)
				}
				if !maps.EqualFunc(base.m, view.m, bytes.Equal) {
					t.Fatalf("seed %d step %d: commit gave %v, want %v", seed, step, base.m, view.m)
				}
				view = nil
			case op == 2 && view != nil:
				tx.rollback()
				view = nil
			case op < 7:
				k, v := key(), []byte(fmt.Sprint(step))
				tx.Set(k, v)
				if view != nil {
					view.Set(k, v)
				}
			case op < 9:
				k := key()
				tx.Delete(k)
				if view != nil {
					view.Delete(k)
				}
			default:
				s, e := key(), key()
				tx.DeleteRange(s, e)
				if view != nil {
					view.DeleteRange(s, e)
				}
			}
			check(step)
		}
	}
}
