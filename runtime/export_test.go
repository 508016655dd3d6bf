package runtime

// Test operators, exported to the external test package.
func NewTestSplit() OperatorFactory { return factoryOf(func() Operator { return &splitOp{} }) }

// NewTestSplitWords is NewTestSplit with each word as its record's value too.
func NewTestSplitWords() OperatorFactory {
	return factoryOf(func() Operator { return &splitOp{values: true} })
}
func NewTestCount() OperatorFactory { return factoryOf(func() Operator { return &countOp{} }) }
func NewTestWindow(sizeMs int64) OperatorFactory {
	return factoryOf(func() Operator { return &windowOp{size: sizeMs} })
}

// SetTimerHeapMax bounds the in-memory timer heaps (to exercise their spill and
// reload in tests) and returns a function that restores the bound.
func SetTimerHeapMax(n int) func() {
	oldMax, oldRefill := timerHeapMax, timerRefillMax
	timerHeapMax, timerRefillMax = n, max(1, n/2)
	return func() { timerHeapMax, timerRefillMax = oldMax, oldRefill }
}
