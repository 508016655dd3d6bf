package com.github.weirstream.nexmark.generator;

/**
 * SplitMix is the SplitMix64 generator of docs/nexmark.md §1: a 64-bit state s;
 * a draw adds GAMMA to s and returns mix64(s). All arithmetic wraps modulo 2^64
 * (Java's long arithmetic), and {@code >>>} reads the bits unsigned.
 *
 * <p>It is deliberately not {@link java.util.SplittableRandom}, whose bounded
 * methods differ from {@link #u(long)}.
 */
final class SplitMix {
    /** GAMMA is SplitMix64's increment, 0x9e3779b97f4a7c15. */
    static final long GAMMA = 0x9e3779b97f4a7c15L;

    private long s;

    SplitMix(long state) {
        this.s = state;
    }

    /** mix64 is SplitMix64's output function. */
    static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    /** next returns the next draw. */
    long next() {
        s += GAMMA;
        return mix64(s);
    }

    /**
     * u returns U(b) = ((d >>> 32) * b) >>> 32 of the next draw d: an integer in
     * [0, b) for 1 <= b <= 2^32. The product is below 2^64 as an unsigned number,
     * so Java's wrapping multiplication keeps all its bits.
     */
    long u(long b) {
        return ((next() >>> 32) * b) >>> 32;
    }

    /** eventStream returns the generator of event n's draws: initial state mix64(seed + (n + 1) * GAMMA). */
    static SplitMix eventStream(long seed, long n) {
        return new SplitMix(mix64(seed + (n + 1) * GAMMA));
    }
}
