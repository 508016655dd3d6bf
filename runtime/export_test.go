package runtime

// Test operators, exported to the external test package.
func NewTestSplit() OperatorFactory { return factoryOf(func() Operator { return &splitOp{} }) }
func NewTestCount() OperatorFactory { return factoryOf(func() Operator { return &countOp{} }) }
func NewTestWindow(sizeMs int64) OperatorFactory {
	return factoryOf(func() Operator { return &windowOp{size: sizeMs} })
}
