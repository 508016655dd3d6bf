// Command wasm builds the benchmark filter into a Wasm module.
package main

import (
	"github.com/weirstream/weir/internal/enginebench/filter"
	weir "github.com/weirstream/weir/sdk/go"
)

func init() { weir.Serve(filter.Operator) }

func main() {}
