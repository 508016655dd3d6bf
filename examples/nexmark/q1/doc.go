// Package q1 is Nexmark query 1, currency conversion (docs/nexmark.md §8):
// every bid with its price converted from dollars to euros, price * 908 / 1000.
package q1
