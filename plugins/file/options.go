package file

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
)

// decodeOptions decodes the JSON options of a job spec into v, rejecting
// unknown options and trailing data. Empty options and null decode as {}.
// Errors name the option and say what is wrong.
func decodeOptions(opts json.RawMessage, v any) error {
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
		return fmt.Errorf("options: unexpected data after the JSON object")
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
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return t.String()
}

// resolve returns path relative to baseDir unless it is absolute.
func resolve(baseDir, path string) string {
	if filepath.IsAbs(path) || baseDir == "" {
		return filepath.Clean(path)
	}
	return filepath.Join(baseDir, path)
}
