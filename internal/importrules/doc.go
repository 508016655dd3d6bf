// Package importrules holds the test that enforces the dependency rules of
// ARCHITECTURE.md: which packages may import what. It has no code of its own.
package importrules
