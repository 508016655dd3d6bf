package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
)

// DecodeOptions decodes the JSON options a job spec gives a plugin into v
// (a pointer to the plugin's options struct), the way every Weir plugin does:
// unknown options and trailing data are errors, empty options and null decode
// as {}, and a type error names the option and the JSON type it wants.
func DecodeOptions(opts json.RawMessage, v any) error {
	trimmed := bytes.TrimSpace(opts)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return fmt.Errorf("option %s: got a JSON %s, want %s", te.Field, te.Value, jsonKind(te.Type))
		}
		return fmt.Errorf("options: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("options: unexpected data after the JSON object")
	}
	return nil
}

// jsonKind names the JSON type that decodes into t.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}
