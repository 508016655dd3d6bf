//go:build tools

// Package tools pins the versions of the code generators `make proto` runs
// (protoc-gen-go, protoc-gen-connect-go) in go.mod.
package tools

import (
	_ "connectrpc.com/connect/cmd/protoc-gen-connect-go"
	_ "google.golang.org/protobuf/cmd/protoc-gen-go"
)
