package conformancetest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/runtime"
	weir "github.com/weirstream/weir/sdk/go"
)

// alternating is a weirtest.Processor that hands each batch to the next of
// its operators in turn.
type alternating struct {
	ops     []runtime.Operator
	batches int
}

func (a *alternating) Process(batch []byte, h weir.NativeHost) error {
	op := a.ops[a.batches%len(a.ops)]
	a.batches++
	return op.Process(context.Background(), batch, h)
}

// TestLanguagesTakingTurns runs every behaviour vector with the builds of
// its reference operator in two languages taking turns, batch by batch, on
// one harness, for every pair of languages and both orders: each build reads
// the keyed state and timers the other wrote (running sums, window counts
// and their timers), so the vectors pass only if the SDKs store the same
// state bytes. That is what lets a job hot-swap an operator for its build in
// another language and keep its state.
func TestLanguagesTakingTurns(t *testing.T) {
	engine := newEngine(t, host.Config{Logger: quietLogger})
	vectors := readVectors(t)
	for i, first := range languages {
		for _, second := range languages[i+1:] {
			t.Run(first+"+"+second, func(t *testing.T) {
				for _, name := range slices.Sorted(maps.Keys(vectors)) {
					v := vectors[name]
					mods := map[string]*host.Module{}
					for _, lang := range []string{first, second} {
						m := loadModule(t, engine, lang+"-"+v.Operator, build(t, lang, v.Operator), host.Limits{})
						mods[lang] = m
					}
					for _, order := range [][2]string{{first, second}, {second, first}} {
						t.Run(fmt.Sprintf("%s/%s-first", name, order[0]), func(t *testing.T) {
							turns := &alternating{}
							instances := func() {
								turns.ops = turns.ops[:0]
								for _, lang := range order {
									op := newInstance(t, mods[lang], runtime.OperatorInfo{Name: v.Operator, Keyed: v.Keyed, Config: []byte(v.Config)})
									turns.ops = append(turns.ops, op)
								}
							}
							instances()
							run := newVectorRun(t, v, turns, instances)
							for i, s := range v.Steps {
								runStep(t, run, i, s) // checks the step, failures included
							}
							if turns.batches < 2 {
								t.Fatalf("%d batches ran: the builds did not take turns", turns.batches)
							}
						})
					}
				}
			})
		}
	}
}
