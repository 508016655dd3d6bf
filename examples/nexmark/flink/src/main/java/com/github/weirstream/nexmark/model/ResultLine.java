package com.github.weirstream.nexmark.model;

/**
 * ResultLine is a query result that has a canonical line (docs/nexmark.md §8):
 * decimal integers and raw strings, separated by commas, without a newline.
 */
public interface ResultLine {
    /** line returns the canonical text of this result. */
    String line();
}
