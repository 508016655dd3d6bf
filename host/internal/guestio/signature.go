package guestio

import (
	"slices"
	"strings"

	"github.com/tetratelabs/wazero/api"
)

// Signature is the type of a Wasm function, for comparing an import or export
// with what the host expects and for saying what differs.
type Signature struct{ Params, Results []api.ValueType }

// SignatureOf returns the signature of the function d.
func SignatureOf(d api.FunctionDefinition) Signature {
	return Signature{d.ParamTypes(), d.ResultTypes()}
}

// Equal reports whether s and o have the same parameters and results.
func (s Signature) Equal(o Signature) bool {
	return slices.Equal(s.Params, o.Params) && slices.Equal(s.Results, o.Results)
}

// String renders s as "(i32, i32) -> i32"; no results render as "()".
func (s Signature) String() string {
	names := func(ts []api.ValueType) string {
		parts := make([]string, len(ts))
		for i, t := range ts {
			parts[i] = api.ValueTypeName(t)
		}
		return strings.Join(parts, ", ")
	}
	res := names(s.Results)
	if len(s.Results) != 1 {
		res = "(" + res + ")"
	}
	return "(" + names(s.Params) + ") -> " + res
}
