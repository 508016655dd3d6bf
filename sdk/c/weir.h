/*
 * weir.h - the Weir guest ABI, version 1, for C, C++ and Zig operators.
 *
 * A Weir operator is a WebAssembly module. The host hands it batches of
 * entries (records and fired timers), one call per batch; while it processes
 * a batch the guest reads and writes keyed state, sets timers, emits records
 * and logs through the host functions of the import module "weir_v1". The
 * normative text is abi/ABI.md in the Weir repository; the section numbers
 * below (ABI §n) refer to it.
 *
 * This header is the whole C SDK. It is header-only and freestanding: it
 * needs no libc, only the compiler's own <stddef.h>, <stdint.h> and
 * <stdbool.h>. Build an operator with Debian's clang 14 and lld:
 *
 *     clang --target=wasm32 -nostdlib -O2 -mbulk-memory -I sdk/c \
 *           -Wl,--no-entry -Wl,--stack-first -Wl,-z,stack-size=262144 \
 *           -o op.wasm op.c
 *
 * -mbulk-memory makes clang turn memcpy and memset into the memory.copy and
 * memory.fill instructions, so the module needs no libc (the header refuses
 * to compile without it unless you define WEIR_HAVE_LIBC and link one).
 * --stack-first puts the stack below the data, so that a stack overflow
 * traps instead of overwriting globals.
 *
 * It has two layers:
 *
 *   1. The ABI itself: the status codes, kinds, limits and batch layout
 *      (WEIR_OFF_* offsets), the host function imports (weir_host_*),
 *      little-endian field readers and writers (weir_load_u32, ...).
 *
 *   2. A small runtime on top of it: an allocator (weir_alloc, weir_free;
 *      power-of-two size classes on memory.grow), the input buffer of
 *      weir_v1_reserve, a batch walker that keeps the cursor (ABI §4.4), per
 *      port output buffers that are emitted once per batch, growable byte
 *      buffers (weir_buf), state helpers (weir_state_*; int64 values are 8
 *      bytes big-endian with the sign bit flipped, as the Go SDK's Int64
 *      codec writes them, so Go and C builds share state), decimal
 *      parsing and formatting with Go's strconv rules, error reporting
 *      (weir_fail) and weir_panic.
 *
 * A complete operator, the stateless upper-case map:
 *
 *     #include "weir.h"
 *
 *     static int upper(const weir_batch *b, const weir_entry *e) {
 *         (void)b;
 *         uint8_t *v = weir_scratch(e->value_len);
 *         for (uint32_t i = 0; i < e->value_len; i++) {
 *             uint8_t c = e->value[i];
 *             v[i] = (c >= 'a' && c <= 'z') ? (uint8_t)(c - 32) : c;
 *         }
 *         weir_record r = weir_record_of(e);   // key, headers, timestamp, tracking id
 *         r.value = v;
 *         return weir_emit(0, &r);
 *     }
 *
 *     WEIR_OPERATOR(upper, NULL)
 *
 * WEIR_OPERATOR(on_record, on_timer) defines the exports weir_v1_reserve and
 * weir_v1_process; WEIR_INIT(on_init) adds weir_v1_init. Each callback
 * returns 0 (WEIR_OK) or a status code: an ABI code it got from a host call,
 * or an operator code of its own (100..65535), ideally through weir_fail,
 * which also hands the host a message. A non-zero code fails the batch: the
 * host discards its emits and state writes and reports the entry the
 * cursor names.
 *
 * Emitted records are explicit: weir_emit writes exactly the fields of the
 * weir_record it is given. weir_record_of(e) starts one from the entry being
 * processed (its key, value, headers, timestamp and tracking id, which is how
 * a derived record inherits them); for a fired timer that is the timer's key
 * and time and tracking id 0.
 *
 * Memory: weir_alloc never returns memory to the host (Wasm memory cannot
 * shrink) but reuses freed blocks of the same size class. The input buffer
 * and the output buffers are reused from batch to batch. When memory cannot
 * grow (the host's memory limit, ABI §9) the helpers that must allocate call
 * weir_panic, which writes "panic: <message>" to stderr (the host puts that
 * line into the call's error) and traps; the host then replaces the
 * instance.
 *
 * Several translation units may include this header: its shared state (the
 * allocator, the buffers) is defined as weak symbols, which the linker
 * merges, and its functions are static inline.
 *
 * Threads: none. A Weir module serves one operator instance, called by one
 * host thread at a time.
 */
#ifndef WEIR_H
#define WEIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if !defined(__wasm32__)
#error "weir.h targets wasm32: compile with clang --target=wasm32"
#endif
#if !defined(__wasm_bulk_memory__) && !defined(WEIR_HAVE_LIBC)
#error "weir.h needs -mbulk-memory (memcpy/memset become memory.copy/memory.fill), or define WEIR_HAVE_LIBC and link a libc"
#endif
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "weir.h assumes a little-endian target, as wasm32 is"
#endif

/* ------------------------------------------------------------------------ */
/* 1. The ABI (abi/ABI.md)                                                   */
/* ------------------------------------------------------------------------ */

/* WEIR_ABI_VERSION is the ABI version this header implements (ABI §2). */
#define WEIR_ABI_VERSION 1
/* WEIR_ABI_MINOR_VERSION is its minor version (ABI §2): 1 added call. */
#define WEIR_ABI_MINOR_VERSION 1

/* Status codes (ABI §8). 0 is success; 100..65535 are the operator's own. */
enum {
	WEIR_OK = 0,
	WEIR_NOT_FOUND = 1,        /* state_get: no value for that key */
	WEIR_BUFFER_TOO_SMALL = 2, /* state_scan: the output buffer cannot hold the next pair */
	WEIR_OUT_OF_BOUNDS = 3,    /* a pointer/length pair lies outside guest memory */
	WEIR_BAD_ENTRY = 4,        /* entry is not an index of the current batch */
	WEIR_BAD_ARGUMENT = 5,     /* a bad state name, timer kind or port */
	WEIR_LIMIT_EXCEEDED = 6,   /* a key, value or emitted batch over the limits of ABI §9 */
	WEIR_MALFORMED = 7,        /* an emitted batch is not valid (ABI §4.3) */
	WEIR_NOT_ALLOWED = 8,      /* no current batch, or no keyed input */
	WEIR_INTERNAL = 9,         /* the host failed; the call fails whatever the guest returns */
	WEIR_UNAVAILABLE = 10,     /* (ABI 1.1) call: no response; calling again with the same key is safe */
	/* WEIR_FIRST_GUEST_CODE is the lowest code an operator may use for its own errors. */
	WEIR_FIRST_GUEST_CODE = 100,
	/* WEIR_ERROR is the operator code for an error that has no code of its
	 * own (the Go SDK's ErrorCode). */
	WEIR_ERROR = 100,
	/* WEIR_MAX_CODE is the largest status code. */
	WEIR_MAX_CODE = 65535
};

/* Entry kinds (ABI §4.2); the timer kinds are also the kind argument of
 * weir_host_timer_set and weir_host_timer_delete. */
enum {
	WEIR_KIND_RECORD = 0,
	WEIR_KIND_EVENT_TIMER = 1,
	WEIR_KIND_PROCESSING_TIMER = 2
};

/* Log levels of weir_host_log (they match Go's log/slog). */
enum {
	WEIR_LEVEL_DEBUG = -4,
	WEIR_LEVEL_INFO = 0,
	WEIR_LEVEL_WARN = 4,
	WEIR_LEVEL_ERROR = 8
};

/* Default limits of ABI §9, in bytes (the host may lower them per job). */
#define WEIR_MAX_KEY_BYTES (64u << 10)        /* entry keys and user keys */
#define WEIR_MAX_VALUE_BYTES (16u << 20)      /* record values and state values */
#define WEIR_MAX_EMIT_BYTES (64u << 20)       /* emitted batch bytes per call */
#define WEIR_MAX_STATE_NAME_BYTES 255u
#define WEIR_MAX_PORT 255u

/* WEIR_NO_TIMESTAMP marks a record without event time and a watermark not
 * yet known (INT64_MIN); WEIR_MAX_WATERMARK ends event time. */
#define WEIR_NO_TIMESTAMP INT64_MIN
#define WEIR_MAX_WATERMARK INT64_MAX

/* Batch layout (ABI §4.1, §4.2). All integers are little-endian. */
#define WEIR_MAGIC 0x31425257u /* the bytes "WRB1" */
#define WEIR_BATCH_HEADER_SIZE 32u
#define WEIR_ENTRY_HEADER_SIZE 32u
/* Offsets in the batch header. */
#define WEIR_OFF_MAGIC 0u           /* u32 */
#define WEIR_OFF_COUNT 4u           /* u32 number of entries */
#define WEIR_OFF_WATERMARK 8u       /* i64 */
#define WEIR_OFF_PROCESSING_TIME 16u /* i64 */
#define WEIR_OFF_CURSOR 24u         /* u32 index of the entry being processed */
#define WEIR_OFF_RESERVED 28u       /* u32, 0 */
/* Offsets in an entry header; key, value and headers follow it. */
#define WEIR_ENTRY_OFF_KIND 0u        /* u8, then 3 reserved bytes */
#define WEIR_ENTRY_OFF_KEY_LEN 4u     /* u32 */
#define WEIR_ENTRY_OFF_VALUE_LEN 8u   /* u32 */
#define WEIR_ENTRY_OFF_HEADERS_LEN 12u /* u32 */
#define WEIR_ENTRY_OFF_TIMESTAMP 16u  /* i64 */
#define WEIR_ENTRY_OFF_TRACKING_ID 24u /* u64 */

/* WEIR_EXPORT gives a function the Wasm export name name. */
#define WEIR_EXPORT(name) __attribute__((export_name(name)))
/* WEIR_IMPORT declares a host function of the weir_v1 import module (ABI §5). */
#define WEIR_IMPORT(name) __attribute__((import_module("weir_v1"), import_name(name)))

/* Host functions (ABI §5). entry is the index of an entry of the batch being
 * processed; pointers are offsets into this module's memory. State and timer
 * calls act for the key of that entry and need a keyed input; outside
 * weir_v1_process they return WEIR_NOT_ALLOWED. */

/* weir_host_state_get returns the length n >= 0 of the value of user key
 * ukey of state name, copying it to out only if n <= out_cap; or -code
 * (-WEIR_NOT_FOUND when there is none). */
WEIR_IMPORT("state_get")
int64_t weir_host_state_get(uint32_t entry, const void *name, uint32_t name_len,
                            const void *ukey, uint32_t ukey_len, void *out, uint32_t out_cap);
/* weir_host_state_put stores value as user key ukey of state name. */
WEIR_IMPORT("state_put")
uint32_t weir_host_state_put(uint32_t entry, const void *name, uint32_t name_len,
                             const void *ukey, uint32_t ukey_len, const void *value, uint32_t value_len);
/* weir_host_state_delete deletes user key ukey of state name (absent: OK). */
WEIR_IMPORT("state_delete")
uint32_t weir_host_state_delete(uint32_t entry, const void *name, uint32_t name_len,
                                const void *ukey, uint32_t ukey_len);
/* weir_host_state_clear deletes every user key of state name. */
WEIR_IMPORT("state_clear")
uint32_t weir_host_state_clear(uint32_t entry, const void *name, uint32_t name_len);
/* weir_host_state_scan writes whole pairs (u32 ukey_len, ukey, u32 value_len,
 * value) of state name with user keys >= start, in ascending order, and
 * returns written | more << 32, or -code (-WEIR_BUFFER_TOO_SMALL when not
 * even one pair fits) (ABI §5.1). See weir_state_scan. */
WEIR_IMPORT("state_scan")
int64_t weir_host_state_scan(uint32_t entry, const void *name, uint32_t name_len,
                             const void *start, uint32_t start_len, void *out, uint32_t out_cap);
/* weir_host_timer_set registers a timer of kind (WEIR_KIND_EVENT_TIMER or
 * WEIR_KIND_PROCESSING_TIMER) at time ms for the entry's key; setting it
 * again is a no-op. */
WEIR_IMPORT("timer_set")
uint32_t weir_host_timer_set(uint32_t entry, uint32_t kind, int64_t time);
/* weir_host_timer_delete deletes that timer (absent: OK). */
WEIR_IMPORT("timer_delete")
uint32_t weir_host_timer_delete(uint32_t entry, uint32_t kind, int64_t time);
/* weir_host_emit hands the batch of records at [ptr, ptr+len) to output port
 * (0 main, 1..255 side outputs). A non-zero result fails the call even if
 * the guest then returns 0. weir_emit buffers records and calls it once per
 * port and batch. */
WEIR_IMPORT("emit")
uint32_t weir_host_emit(uint32_t port, const void *ptr, uint32_t len);
/* weir_host_log writes a UTF-8 message to the host log at level. */
WEIR_IMPORT("log")
void weir_host_log(int32_t level, const void *ptr, uint32_t len);
/* weir_host_set_error records the message that explains the non-zero status
 * the guest is about to return. */
WEIR_IMPORT("set_error")
void weir_host_set_error(const void *ptr, uint32_t len);
/* weir_host_call (ABI 1.1) makes the journaled external call of ABI §5.3:
 * it returns the length n >= 4 of the response (u32 status, then the body),
 * copying it to out only if n <= out_cap; or -code. See weir_call. NB: the
 * linker imports it only into modules that call it, so that others still
 * load on 1.0 hosts. */
WEIR_IMPORT("call")
int64_t weir_host_call(uint32_t entry, const void *endpoint, uint32_t endpoint_len,
                       const void *request, uint32_t request_len, const void *key, uint32_t key_len,
                       void *out, uint32_t out_cap);

/* Little-endian field access; wasm32 allows unaligned loads and stores. */
static inline uint32_t weir_load_u32(const void *p) { uint32_t v; __builtin_memcpy(&v, p, 4); return v; }
static inline uint64_t weir_load_u64(const void *p) { uint64_t v; __builtin_memcpy(&v, p, 8); return v; }
static inline int64_t weir_load_i64(const void *p) { return (int64_t)weir_load_u64(p); }
static inline void weir_store_u32(void *p, uint32_t v) { __builtin_memcpy(p, &v, 4); }
static inline void weir_store_u64(void *p, uint64_t v) { __builtin_memcpy(p, &v, 8); }
static inline void weir_store_i64(void *p, int64_t v) { weir_store_u64(p, (uint64_t)v); }
/* Big-endian 64-bit access, for state values (the Go SDK's fixed codecs). */
static inline uint64_t weir_load_be64(const void *p) { return __builtin_bswap64(weir_load_u64(p)); }
static inline void weir_store_be64(void *p, uint64_t v) { weir_store_u64(p, __builtin_bswap64(v)); }

/* ------------------------------------------------------------------------ */
/* 2. The runtime                                                            */
/* ------------------------------------------------------------------------ */

/* WEIR__SHARED defines state shared by every translation unit of a module. */
#define WEIR__SHARED __attribute__((weak))

/* weir_strlen returns the length of the NUL-terminated string s. */
static inline uint32_t weir_strlen(const char *s) {
	uint32_t n = 0;
	while (s[n]) n++;
	return n;
}

/* weir_bytes_equal reports whether a[0..n) and b[0..n) are equal. */
static inline bool weir_bytes_equal(const void *a, const void *b, uint32_t n) {
	const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)b;
	for (uint32_t i = 0; i < n; i++)
		if (x[i] != y[i]) return false;
	return true;
}

/* weir_bytes_is reports whether the n bytes at p are the string s. */
static inline bool weir_bytes_is(const void *p, uint32_t n, const char *s) {
	return n == weir_strlen(s) && weir_bytes_equal(p, s, n);
}

/* weir_stderr_write writes n bytes to stderr through WASI fd_write, which the
 * host sends to its log (ABI §7.2). It is only linked in when used. */
typedef struct { const void *buf; uint32_t len; } weir__iovec;
__attribute__((import_module("wasi_snapshot_preview1"), import_name("fd_write")))
uint32_t weir__wasi_fd_write(uint32_t fd, const weir__iovec *iovs, uint32_t iovs_len, uint32_t *nwritten);

/* weir_panic writes "panic: <msg>" to stderr, which the host quotes in the
 * error of the call, and traps. The host discards the instance and makes a
 * fresh one for the next batch. */
static inline __attribute__((noreturn, noinline, cold)) void weir_panic(const char *msg) {
	weir__iovec iov[3] = {{"panic: ", 7}, {msg, weir_strlen(msg)}, {"\n", 1}};
	uint32_t n;
	weir__wasi_fd_write(2, iov, 3, &n);
	__builtin_trap();
}

/* --- Allocator ---------------------------------------------------------- */

/* Blocks are powers of two from 2^WEIR__MIN_CLASS to 2^WEIR__MAX_CLASS bytes,
 * with an 8-byte header holding the class; free blocks of a class form a
 * list. New blocks come from the top of the heap, which memory.grow extends. */
#define WEIR__MIN_CLASS 4u
#define WEIR__MAX_CLASS 31u
#define WEIR__BLOCK_HEADER 8u
#define WEIR__PAGE_BYTES 65536u

extern unsigned char __heap_base; /* set by wasm-ld: the first byte after data and stack */
WEIR__SHARED uint32_t weir__heap_top;      /* next unused byte of the heap; 0 before the first allocation */
WEIR__SHARED void *weir__free_list[WEIR__MAX_CLASS + 1];

/* weir_alloc returns a block of at least size bytes, aligned to 8, or NULL if
 * memory cannot grow that far. Its contents are undefined. */
static inline void *weir_alloc(uint32_t size) {
	uint64_t need = (uint64_t)size + WEIR__BLOCK_HEADER;
	uint32_t cls = 64u - (uint32_t)__builtin_clzll(need - 1);
	if (cls < WEIR__MIN_CLASS) cls = WEIR__MIN_CLASS;
	if (cls > WEIR__MAX_CLASS) return NULL;
	uint8_t *blk = (uint8_t *)weir__free_list[cls];
	if (blk) {
		weir__free_list[cls] = *(void **)(blk + WEIR__BLOCK_HEADER);
	} else {
		if (weir__heap_top == 0) weir__heap_top = ((uint32_t)(uintptr_t)&__heap_base + 7u) & ~7u;
		uint64_t end = (uint64_t)weir__heap_top + ((uint64_t)1 << cls);
		if (end >= ((uint64_t)1 << 32)) return NULL;
		uint64_t have = (uint64_t)__builtin_wasm_memory_size(0) * WEIR__PAGE_BYTES;
		if (end > have) {
			uint64_t pages = (end - have + WEIR__PAGE_BYTES - 1) / WEIR__PAGE_BYTES;
			if (__builtin_wasm_memory_grow(0, (size_t)pages) == (size_t)-1) return NULL;
		}
		blk = (uint8_t *)(uintptr_t)weir__heap_top;
		weir__heap_top = (uint32_t)end;
	}
	weir_store_u32(blk, cls);
	return blk + WEIR__BLOCK_HEADER;
}

/* weir_alloc_cap returns how many bytes the block p (from weir_alloc) holds. */
static inline uint32_t weir_alloc_cap(const void *p) {
	return (uint32_t)(((uint64_t)1 << weir_load_u32((const uint8_t *)p - WEIR__BLOCK_HEADER)) - WEIR__BLOCK_HEADER);
}

/* weir_free returns the block p to its free list; NULL is ignored. */
static inline void weir_free(void *p) {
	if (!p) return;
	uint8_t *blk = (uint8_t *)p - WEIR__BLOCK_HEADER;
	uint32_t cls = weir_load_u32(blk);
	*(void **)p = weir__free_list[cls];
	weir__free_list[cls] = blk;
}

/* weir_realloc returns a block of at least size bytes holding the first
 * min(size, old capacity) bytes of p (NULL: a new block), or NULL, leaving p
 * untouched, if memory cannot grow. */
static inline void *weir_realloc(void *p, uint32_t size) {
	if (p && weir_alloc_cap(p) >= size) return p;
	void *q = weir_alloc(size);
	if (!q) return NULL;
	if (p) {
		__builtin_memcpy(q, p, weir_alloc_cap(p));
		weir_free(p);
	}
	return q;
}

/* weir_must_alloc is weir_alloc that panics when memory cannot grow. */
static inline void *weir_must_alloc(uint32_t size) {
	void *p = weir_alloc(size);
	if (!p) weir_panic("weir: out of memory");
	return p;
}

/* --- Growable byte buffers ---------------------------------------------- */

/* weir_buf is a growable byte buffer on weir_alloc. The zero value is an
 * empty buffer. Appends panic (weir_panic) when memory cannot grow. */
typedef struct weir_buf {
	uint8_t *data;
	uint32_t len;
	uint32_t cap;
} weir_buf;

/* weir_buf_grow makes room for n more bytes. */
static inline void weir_buf_grow(weir_buf *b, uint32_t n) {
	if (b->cap - b->len >= n) return;
	uint64_t want = (uint64_t)b->len + n;
	if (want < 64) want = 64;
	if (want < (uint64_t)b->cap * 2) want = (uint64_t)b->cap * 2;
	if (want > 0x7ffffff8u) want = (uint64_t)b->len + n;
	if (want > 0x7ffffff8u) weir_panic("weir: buffer over 2 GiB");
	uint8_t *d = (uint8_t *)weir_realloc(b->data, (uint32_t)want);
	if (!d) weir_panic("weir: out of memory");
	b->data = d;
	b->cap = weir_alloc_cap(d);
}

/* weir_buf_append appends the n bytes at p. */
static inline void weir_buf_append(weir_buf *b, const void *p, uint32_t n) {
	weir_buf_grow(b, n);
	if (n) __builtin_memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* weir_buf_str appends the NUL-terminated string s (without the NUL). */
static inline void weir_buf_str(weir_buf *b, const char *s) { weir_buf_append(b, s, weir_strlen(s)); }

/* weir_buf_byte appends one byte. */
static inline void weir_buf_byte(weir_buf *b, uint8_t c) {
	weir_buf_grow(b, 1);
	b->data[b->len++] = c;
}

/* weir_buf_free releases b's memory and empties it. */
static inline void weir_buf_free(weir_buf *b) {
	weir_free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* weir_scratch returns a buffer of at least n bytes that stays valid until
 * the next call of weir_scratch (it grows as needed and is never freed):
 * room for a value an operator builds and emits at once. It panics when
 * memory cannot grow. */
WEIR__SHARED weir_buf weir__scratch;
static inline uint8_t *weir_scratch(uint32_t n) {
	weir__scratch.len = 0;
	weir_buf_grow(&weir__scratch, n ? n : 1);
	return weir__scratch.data;
}

/* --- Decimal numbers (Go's strconv rules, base 10) ----------------------- */

/* WEIR_MAX_DECIMAL_BYTES is the longest decimal int64 or uint64: 20 digits
 * and a sign. */
#define WEIR_MAX_DECIMAL_BYTES 21

/* weir_format_u64 writes v in decimal to out (at least 20 bytes) and returns
 * its length. */
static inline uint32_t weir_format_u64(uint8_t *out, uint64_t v) {
	uint8_t tmp[20];
	uint32_t n = 0;
	do {
		tmp[n++] = (uint8_t)('0' + v % 10);
		v /= 10;
	} while (v);
	for (uint32_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
	return n;
}

/* weir_format_i64 writes v in decimal, with a '-' if negative, to out (at
 * least WEIR_MAX_DECIMAL_BYTES bytes) and returns its length. */
static inline uint32_t weir_format_i64(uint8_t *out, int64_t v) {
	if (v >= 0) return weir_format_u64(out, (uint64_t)v);
	out[0] = '-';
	return 1 + weir_format_u64(out + 1, (uint64_t)0 - (uint64_t)v); /* INT64_MIN too */
}

/* weir_parse_u64 parses p[0..n) as Go's strconv.ParseUint(s, 10, 64): one or
 * more ASCII digits, no sign, within uint64. It returns false on anything
 * else. */
static inline bool weir_parse_u64(const uint8_t *p, uint32_t n, uint64_t *out) {
	if (n == 0) return false;
	uint64_t u = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (c < '0' || c > '9') return false;
		uint64_t d = (uint64_t)(c - '0');
		if (u > (UINT64_MAX - d) / 10) return false;
		u = u * 10 + d;
	}
	*out = u;
	return true;
}

/* weir_parse_i64 parses p[0..n) as Go's strconv.ParseInt(s, 10, 64): an
 * optional '+' or '-', then one or more ASCII digits, within int64. It
 * returns false on anything else. */
static inline bool weir_parse_i64(const uint8_t *p, uint32_t n, int64_t *out) {
	bool neg = false;
	if (n > 0 && (p[0] == '+' || p[0] == '-')) {
		neg = p[0] == '-';
		p++;
		n--;
	}
	uint64_t u;
	if (!weir_parse_u64(p, n, &u)) return false;
	const uint64_t cutoff = (uint64_t)1 << 63; /* the magnitude of INT64_MIN */
	if (u > cutoff || (!neg && u == cutoff)) return false;
	*out = neg ? (int64_t)((uint64_t)0 - u) : (int64_t)u;
	return true;
}

/* weir_buf_i64 appends v in decimal. */
static inline void weir_buf_i64(weir_buf *b, int64_t v) {
	weir_buf_grow(b, WEIR_MAX_DECIMAL_BYTES);
	b->len += weir_format_i64(b->data + b->len, v);
}

/* weir_buf_u64 appends v in decimal. */
static inline void weir_buf_u64(weir_buf *b, uint64_t v) {
	weir_buf_grow(b, WEIR_MAX_DECIMAL_BYTES);
	b->len += weir_format_u64(b->data + b->len, v);
}

/* weir_buf_quote appends p[0..n) in double quotes, printable ASCII as it is
 * (with \" and \\ escaped) and every other byte as \xNN: for messages. */
static inline void weir_buf_quote(weir_buf *b, const void *p, uint32_t n) {
	static const char hex[] = "0123456789abcdef";
	const uint8_t *s = (const uint8_t *)p;
	weir_buf_byte(b, '"');
	for (uint32_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		if (c == '"' || c == '\\') {
			weir_buf_byte(b, '\\');
			weir_buf_byte(b, c);
		} else if (c >= 0x20 && c < 0x7f) {
			weir_buf_byte(b, c);
		} else {
			uint8_t e[4] = {'\\', 'x', (uint8_t)hex[c >> 4], (uint8_t)hex[c & 15]};
			weir_buf_append(b, e, 4);
		}
	}
	weir_buf_byte(b, '"');
}

/* --- Errors and logging -------------------------------------------------- */

WEIR__SHARED bool weir__error_set; /* set_error was called in this call */

/* weir_fail hands msg to the host (set_error) and returns code, for a
 * callback to return: return weir_fail(101, "bad value"); */
static inline int weir_fail(int code, const char *msg) {
	weir_host_set_error(msg, weir_strlen(msg));
	weir__error_set = true;
	return code;
}

/* weir_fail_buf is weir_fail with the message in m, which it frees. */
static inline int weir_fail_buf(int code, weir_buf *m) {
	weir_host_set_error(m->data, m->len);
	weir__error_set = true;
	weir_buf_free(m);
	return code;
}

/* weir_log writes the NUL-terminated msg to the host log at level. */
static inline void weir_log(int32_t level, const char *msg) { weir_host_log(level, msg, weir_strlen(msg)); }

/* --- Reading batches ----------------------------------------------------- */

/* weir_entry is one entry of a batch (ABI §4.2). Its pointers point into the
 * batch, valid during the weir_v1_process call. */
typedef struct weir_entry {
	uint32_t index; /* the entry's index in the batch: the entry argument of state and timer calls */
	uint8_t kind;   /* WEIR_KIND_* */
	const uint8_t *key;
	uint32_t key_len;
	const uint8_t *value;
	uint32_t value_len;
	const uint8_t *headers; /* encoded headers: see weir_header_next */
	uint32_t headers_len;
	int64_t timestamp; /* event time (WEIR_NO_TIMESTAMP: none), or the timer's time */
	uint64_t tracking_id;
} weir_entry;

/* weir_batch walks a batch the host wrote, keeping the cursor of the batch
 * header (ABI §4.4) at the entry it returned last. */
typedef struct weir_batch {
	uint8_t *data;
	uint32_t len;
	uint32_t count;           /* entries in the batch */
	int64_t watermark;        /* the operator's event-time watermark (WEIR_NO_TIMESTAMP: none yet) */
	int64_t processing_time;  /* host processing time in ms (ABI §7.3) */
	uint32_t next;            /* index of the next entry */
	uint32_t off;             /* byte offset of the next entry */
	int status;               /* WEIR_MALFORMED if the walk met an entry that does not fit */
} weir_batch;

/* weir_batch_init starts a walk over the batch at data[0..len). It returns
 * WEIR_MALFORMED if the header is short or the magic is wrong. */
static inline int weir_batch_init(weir_batch *b, uint8_t *data, uint32_t len) {
	b->data = data;
	b->len = len;
	b->next = 0;
	b->off = WEIR_BATCH_HEADER_SIZE;
	b->status = WEIR_OK;
	if (len < WEIR_BATCH_HEADER_SIZE || weir_load_u32(data + WEIR_OFF_MAGIC) != WEIR_MAGIC) {
		b->count = 0;
		b->status = WEIR_MALFORMED;
		return WEIR_MALFORMED;
	}
	b->count = weir_load_u32(data + WEIR_OFF_COUNT);
	b->watermark = weir_load_i64(data + WEIR_OFF_WATERMARK);
	b->processing_time = weir_load_i64(data + WEIR_OFF_PROCESSING_TIME);
	return WEIR_OK;
}

/* weir_batch_next decodes the next entry into e, stores its index as the
 * batch's cursor and returns true; it returns false at the end of the batch,
 * or with b->status set to WEIR_MALFORMED if the entry runs past the end. */
static inline bool weir_batch_next(weir_batch *b, weir_entry *e) {
	if (b->next >= b->count) return false;
	uint32_t off = b->off;
	if (b->len - off < WEIR_ENTRY_HEADER_SIZE) {
		b->status = WEIR_MALFORMED;
		return false;
	}
	const uint8_t *h = b->data + off;
	uint32_t kl = weir_load_u32(h + WEIR_ENTRY_OFF_KEY_LEN);
	uint32_t vl = weir_load_u32(h + WEIR_ENTRY_OFF_VALUE_LEN);
	uint32_t hl = weir_load_u32(h + WEIR_ENTRY_OFF_HEADERS_LEN);
	uint64_t end = (uint64_t)off + WEIR_ENTRY_HEADER_SIZE + kl + vl + hl;
	if (end > b->len) {
		b->status = WEIR_MALFORMED;
		return false;
	}
	e->index = b->next;
	e->kind = h[WEIR_ENTRY_OFF_KIND];
	e->key_len = kl;
	e->value_len = vl;
	e->headers_len = hl;
	e->timestamp = weir_load_i64(h + WEIR_ENTRY_OFF_TIMESTAMP);
	e->tracking_id = weir_load_u64(h + WEIR_ENTRY_OFF_TRACKING_ID);
	e->key = h + WEIR_ENTRY_HEADER_SIZE;
	e->value = e->key + kl;
	e->headers = e->value + vl;
	weir_store_u32(b->data + WEIR_OFF_CURSOR, b->next);
	b->off = (uint32_t)end;
	b->next++;
	return true;
}

/* weir_header_iter walks encoded headers (u32 name_len, name, u32 value_len,
 * value, ...; ABI §4.2). */
typedef struct weir_header_iter {
	const uint8_t *p;
	uint32_t left;
} weir_header_iter;

/* weir_headers starts a walk over the headers of e. */
static inline weir_header_iter weir_headers(const weir_entry *e) {
	weir_header_iter it = {e->headers, e->headers_len};
	return it;
}

/* weir_header_next returns the next header's name and value and true, or
 * false at the end (or on malformed headers, which the host never hands
 * over). */
static inline bool weir_header_next(weir_header_iter *it, const uint8_t **name, uint32_t *name_len,
                                    const uint8_t **value, uint32_t *value_len) {
	const uint8_t *f[2];
	uint32_t n[2];
	for (int i = 0; i < 2; i++) {
		if (it->left < 4) return false;
		uint32_t l = weir_load_u32(it->p);
		if (l > it->left - 4) return false;
		f[i] = it->p + 4;
		n[i] = l;
		it->p += 4 + l;
		it->left -= 4 + l;
	}
	*name = f[0];
	*name_len = n[0];
	*value = f[1];
	*value_len = n[1];
	return true;
}

/* weir_header_get finds the first header of e named name and returns its
 * value and true, or false if there is none. */
static inline bool weir_header_get(const weir_entry *e, const char *name, const uint8_t **value, uint32_t *value_len) {
	weir_header_iter it = weir_headers(e);
	const uint8_t *n, *v;
	uint32_t nl, vl;
	while (weir_header_next(&it, &n, &nl, &v, &vl)) {
		if (weir_bytes_is(n, nl, name)) {
			*value = v;
			*value_len = vl;
			return true;
		}
	}
	return false;
}

/* weir_buf_header appends one encoded header (name, value) to b, to build the
 * headers of a record to emit. */
static inline void weir_buf_header(weir_buf *b, const char *name, const void *value, uint32_t value_len) {
	uint32_t nl = weir_strlen(name);
	weir_buf_grow(b, 8 + nl + value_len);
	weir_store_u32(b->data + b->len, nl);
	__builtin_memcpy(b->data + b->len + 4, name, nl);
	weir_store_u32(b->data + b->len + 4 + nl, value_len);
	if (value_len) __builtin_memcpy(b->data + b->len + 8 + nl, value, value_len);
	b->len += 8 + nl + value_len;
}

/* --- Emitting records ---------------------------------------------------- */

/* weir_record is a record to emit. weir_emit writes exactly its fields. */
typedef struct weir_record {
	const void *key;
	uint32_t key_len;
	const void *value;
	uint32_t value_len;
	const void *headers; /* encoded headers (see weir_buf_header); NULL with headers_len 0 for none */
	uint32_t headers_len;
	int64_t timestamp;   /* WEIR_NO_TIMESTAMP for none */
	uint64_t tracking_id; /* the input message it derives from (0: none) */
} weir_record;

/* weir_record_of returns a record with the key, value, headers, timestamp and
 * tracking id of e: change what differs and emit it. For a fired timer that
 * is its key and time, no value or headers, and tracking id 0. */
static inline weir_record weir_record_of(const weir_entry *e) {
	weir_record r = {e->key, e->key_len, e->value, e->value_len, e->headers, e->headers_len, e->timestamp, e->tracking_id};
	return r;
}

/* WEIR_FLUSH_BYTES is the size at which a port's buffer is emitted before the
 * end of the batch. */
#define WEIR_FLUSH_BYTES (1u << 20)

/* weir__out is the batch of records emitted to one port in this call: a
 * batch header, then entries; len 0 until the first record. */
typedef struct weir__out {
	uint8_t *buf;
	uint32_t len;
	uint32_t cap;
	uint32_t count;
} weir__out;

WEIR__SHARED weir__out weir__outs[WEIR_MAX_PORT + 1];
WEIR__SHARED uint8_t weir__used_ports[WEIR_MAX_PORT + 1]; /* ports with output in this call, in first-use order */
WEIR__SHARED uint32_t weir__nused;
WEIR__SHARED int weir__emit_status; /* the first emit failure of this call */

/* weir__emit_fail records the first emit failure with its message. */
static inline __attribute__((noinline, cold)) int weir__emit_fail(int code, const char *msg) {
	if (weir__emit_status == WEIR_OK) weir__emit_status = weir_fail(code, msg);
	return weir__emit_status;
}

/* weir__flush_port hands port's records to the host and empties its buffer. */
static inline int weir__flush_port(uint32_t port) {
	weir__out *o = &weir__outs[port];
	if (o->count == 0) return WEIR_OK;
	weir_store_u32(o->buf + WEIR_OFF_COUNT, o->count);
	uint32_t c = weir_host_emit(port, o->buf, o->len);
	o->len = WEIR_BATCH_HEADER_SIZE;
	o->count = 0;
	if (c != WEIR_OK) {
		if (weir__emit_status == WEIR_OK) {
			weir__emit_status = (int)c;
			weir__error_set = false; /* the host explains a rejected emit itself */
		}
		return (int)c;
	}
	return WEIR_OK;
}

/* weir__emit_slow is weir_emit for the first record of a port in a call, a
 * buffer too small, and records over the limits. */
static inline __attribute__((noinline)) int weir__emit_slow(uint32_t port, uint64_t need) {
	if (port > WEIR_MAX_PORT) return weir__emit_fail(WEIR_BAD_ARGUMENT, "weir_emit: port outside 0..255");
	if (need > WEIR_MAX_EMIT_BYTES) return weir__emit_fail(WEIR_LIMIT_EXCEEDED, "weir_emit: record larger than the emit limit");
	weir__out *o = &weir__outs[port];
	if (o->len == 0) {
		weir__used_ports[weir__nused++] = (uint8_t)port;
		o->len = WEIR_BATCH_HEADER_SIZE;
		o->count = 0;
	}
	if ((uint64_t)o->len + need > WEIR_FLUSH_BYTES && o->count > 0) {
		int c = weir__flush_port(port);
		if (c != WEIR_OK) return c;
	}
	if ((uint64_t)o->len + need > o->cap) {
		uint64_t want = (uint64_t)o->len + need;
		if (want < 4096) want = 4096;
		uint8_t *nb = (uint8_t *)weir_realloc(o->buf, (uint32_t)want);
		if (!nb) weir_panic("weir_emit: out of memory");
		o->buf = nb;
		o->cap = weir_alloc_cap(nb);
	}
	/* A fresh header: magic, no watermark, processing time, cursor and reserved 0. */
	__builtin_memset(o->buf, 0, WEIR_BATCH_HEADER_SIZE);
	weir_store_u32(o->buf + WEIR_OFF_MAGIC, WEIR_MAGIC);
	weir_store_i64(o->buf + WEIR_OFF_WATERMARK, WEIR_NO_TIMESTAMP);
	return WEIR_OK;
}

/* weir_emit appends r to output port (0 main, 1..255 side outputs). The
 * records of a port go to the host in one emit call at the end of the batch
 * (or when the port's buffer passes WEIR_FLUSH_BYTES). It returns WEIR_OK or
 * the code of the first emit failure of this call, which also fails the
 * batch when the callback returns. */
static inline int weir_emit(uint32_t port, const weir_record *r) {
	uint64_t need = (uint64_t)WEIR_ENTRY_HEADER_SIZE + r->key_len + r->value_len + r->headers_len;
	if (weir__emit_status != WEIR_OK) return weir__emit_status;
	weir__out *o = port <= WEIR_MAX_PORT ? &weir__outs[port] : NULL;
	/* INVARIANT: o->len <= o->cap once o->len != 0. */
	if (!o || o->len == 0 || (uint64_t)o->cap - o->len < need || o->len >= WEIR_FLUSH_BYTES) {
		int c = weir__emit_slow(port, need);
		if (c != WEIR_OK) return c;
		o = &weir__outs[port];
	}
	uint8_t *h = o->buf + o->len;
	weir_store_u32(h + WEIR_ENTRY_OFF_KIND, 0); /* kind record, reserved 0 */
	weir_store_u32(h + WEIR_ENTRY_OFF_KEY_LEN, r->key_len);
	weir_store_u32(h + WEIR_ENTRY_OFF_VALUE_LEN, r->value_len);
	weir_store_u32(h + WEIR_ENTRY_OFF_HEADERS_LEN, r->headers_len);
	weir_store_i64(h + WEIR_ENTRY_OFF_TIMESTAMP, r->timestamp);
	weir_store_u64(h + WEIR_ENTRY_OFF_TRACKING_ID, r->tracking_id);
	uint8_t *p = h + WEIR_ENTRY_HEADER_SIZE;
	if (r->key_len) __builtin_memcpy(p, r->key, r->key_len);
	p += r->key_len;
	if (r->value_len) __builtin_memcpy(p, r->value, r->value_len);
	p += r->value_len;
	if (r->headers_len) __builtin_memcpy(p, r->headers, r->headers_len);
	o->len += (uint32_t)need;
	o->count++;
	return WEIR_OK;
}

/* weir_flush emits what the ports hold now, in the order they were first
 * used. weir_run calls it at the end of each batch. */
static inline int weir_flush(void) {
	for (uint32_t i = 0; i < weir__nused; i++) {
		int c = weir__flush_port(weir__used_ports[i]);
		if (c != WEIR_OK) return c;
	}
	return weir__emit_status;
}

/* weir__begin_call forgets the output and errors of the previous call. */
static inline void weir__begin_call(void) {
	for (uint32_t i = 0; i < weir__nused; i++) {
		weir__out *o = &weir__outs[weir__used_ports[i]];
		o->len = 0;
		o->count = 0;
	}
	weir__nused = 0;
	weir__emit_status = WEIR_OK;
	weir__error_set = false;
}

/* --- Keyed state --------------------------------------------------------- */

/* weir_state_read reads user key ukey of state name, for the key of entry,
 * into out (replacing its contents; it grows as needed). It returns WEIR_OK,
 * WEIR_NOT_FOUND (out is then empty), or the host's code. */
static inline int weir_state_read(uint32_t entry, const char *name, const void *ukey, uint32_t ukey_len, weir_buf *out) {
	uint32_t nl = weir_strlen(name);
	out->len = 0;
	int64_t n = weir_host_state_get(entry, name, nl, ukey, ukey_len, out->data, out->cap);
	if (n >= 0 && (uint64_t)n > out->cap) {
		weir_buf_grow(out, (uint32_t)n);
		n = weir_host_state_get(entry, name, nl, ukey, ukey_len, out->data, out->cap);
	}
	if (n < 0) return (int)-n;
	if ((uint64_t)n > out->cap) return WEIR_INTERNAL; /* the value grew between the two calls: impossible */
	out->len = (uint32_t)n;
	return WEIR_OK;
}

/* --- Journaled external calls (ABI §5.3, since 1.1) ---------------------- */

/* weir_call sends request to the job's endpoint named endpoint with the
 * idempotency key key, for the key of entry, and stores the response's status
 * in *status and its body in body (replacing its contents; it grows as
 * needed). The host journals the response in the entry key's state before it
 * returns it: a replay after a restore, or a later call with the same key,
 * gets the journaled response and the endpoint is not called again; a call
 * whose response was not journaled is sent again with the same key, so the
 * endpoint must deduplicate by key (the HTTP header Idempotency-Key). It
 * returns WEIR_OK or the host's code: WEIR_NOT_FOUND (no such endpoint),
 * WEIR_UNAVAILABLE (no response: failing the batch retries it with the same
 * key), WEIR_BAD_ARGUMENT, WEIR_LIMIT_EXCEEDED, WEIR_NOT_ALLOWED. */
static inline int weir_call(uint32_t entry, const char *endpoint, const void *request, uint32_t request_len,
                            const void *key, uint32_t key_len, uint32_t *status, weir_buf *body) {
	uint32_t el = weir_strlen(endpoint);
	body->len = 0;
	if (body->cap < 4) weir_buf_grow(body, 256);
	int64_t n = weir_host_call(entry, endpoint, el, request, request_len, key, key_len, body->data, body->cap);
	if (n >= 0 && (uint64_t)n > body->cap) {
		weir_buf_grow(body, (uint32_t)n); /* the second call is answered from the journal */
		n = weir_host_call(entry, endpoint, el, request, request_len, key, key_len, body->data, body->cap);
	}
	if (n < 0) return (int)-n;
	if (n < 4 || (uint64_t)n > body->cap) return WEIR_INTERNAL;
	*status = weir_load_u32(body->data);
	__builtin_memmove(body->data, body->data + 4, (uint32_t)n - 4);
	body->len = (uint32_t)n - 4;
	return WEIR_OK;
}

/* weir_state_write stores value as user key ukey of state name. */
static inline int weir_state_write(uint32_t entry, const char *name, const void *ukey, uint32_t ukey_len,
                                   const void *value, uint32_t value_len) {
	return (int)weir_host_state_put(entry, name, weir_strlen(name), ukey, ukey_len, value, value_len);
}

/* weir_state_delete deletes user key ukey of state name (absent: WEIR_OK). */
static inline int weir_state_delete(uint32_t entry, const char *name, const void *ukey, uint32_t ukey_len) {
	return (int)weir_host_state_delete(entry, name, weir_strlen(name), ukey, ukey_len);
}

/* weir_state_clear deletes every user key of state name. */
static inline int weir_state_clear(uint32_t entry, const char *name) {
	return (int)weir_host_state_clear(entry, name, weir_strlen(name));
}

/* WEIR__I64_SIGN flips the sign bit of an int64 state value, so that the
 * encoded values sort bytewise as the numbers do (the Go SDK's Int64 codec). */
#define WEIR__I64_SIGN ((uint64_t)1 << 63)

/* weir_state_get_i64 reads an int64 (8 bytes big-endian with the sign bit
 * flipped, the encoding of the Go SDK's Int64 codec) at user key ukey of
 * state name into *v. It returns WEIR_OK, or WEIR_NOT_FOUND with *v = 0, the
 * host's code, or WEIR_ERROR (with a message) for a value of another size.
 * A value state is the user key of length 0: ukey NULL, ukey_len 0. */
static inline int weir_state_get_i64(uint32_t entry, const char *name, const void *ukey, uint32_t ukey_len, int64_t *v) {
	uint8_t b[8];
	int64_t n = weir_host_state_get(entry, name, weir_strlen(name), ukey, ukey_len, b, 8);
	*v = 0;
	if (n < 0) return (int)-n;
	if (n != 8) return weir_fail(WEIR_ERROR, "weir_state_get_i64: the stored value is not 8 bytes");
	*v = (int64_t)(weir_load_be64(b) ^ WEIR__I64_SIGN);
	return WEIR_OK;
}

/* weir_state_put_i64 stores v as 8 bytes big-endian with the sign bit
 * flipped at user key ukey of state name. */
static inline int weir_state_put_i64(uint32_t entry, const char *name, const void *ukey, uint32_t ukey_len, int64_t v) {
	uint8_t b[8];
	weir_store_be64(b, (uint64_t)v ^ WEIR__I64_SIGN);
	return (int)weir_host_state_put(entry, name, weir_strlen(name), ukey, ukey_len, b, 8);
}

/* weir_scan_fn receives one pair of a scan; it returns 0 to go on, 1 to stop,
 * or a status code that ends the scan with that code. */
typedef int (*weir_scan_fn)(void *arg, const uint8_t *ukey, uint32_t ukey_len, const uint8_t *value, uint32_t value_len);

/* weir_state_scan calls fn for each user key >= start of the map state name,
 * for the key of entry, in ascending byte order (ABI §5.1). buf is its
 * working buffer (reuse one across calls); it doubles when a pair does not
 * fit, up to the value limit. It returns WEIR_OK, the host's code, or fn's. */
static inline int weir_state_scan(uint32_t entry, const char *name, const void *start, uint32_t start_len,
                                  weir_buf *buf, weir_scan_fn fn, void *arg) {
	uint32_t nl = weir_strlen(name);
	weir_buf from = {0, 0, 0};
	int rc = WEIR_OK;
	buf->len = 0;
	if (buf->cap < 4096) weir_buf_grow(buf, 4096);
	weir_buf_append(&from, start, start_len);
	for (;;) {
		int64_t r = weir_host_state_scan(entry, name, nl, from.data, from.len, buf->data, buf->cap);
		if (r == -(int64_t)WEIR_BUFFER_TOO_SMALL) {
			if (buf->cap >= 2 * (WEIR_MAX_KEY_BYTES + WEIR_MAX_VALUE_BYTES)) {
				rc = WEIR_BUFFER_TOO_SMALL;
				break;
			}
			buf->len = 0;
			weir_buf_grow(buf, buf->cap * 2);
			continue;
		}
		if (r < 0) {
			rc = (int)-r;
			break;
		}
		uint32_t written = (uint32_t)r;
		bool more = (r >> 32) != 0;
		const uint8_t *p = buf->data, *lastKey = NULL;
		uint32_t lastLen = 0;
		while (written >= 8) {
			uint32_t kl = weir_load_u32(p);
			const uint8_t *k = p + 4;
			uint32_t vl = weir_load_u32(k + kl);
			const uint8_t *v = k + kl + 4;
			int c = fn(arg, k, kl, v, vl);
			if (c != 0) {
				rc = c == 1 ? WEIR_OK : c;
				more = false;
				break;
			}
			lastKey = k;
			lastLen = kl;
			p = v + vl;
			written -= 8 + kl + vl;
		}
		if (!more || !lastKey) break;
		/* Continue after the last key: that key followed by one 0x00 byte. */
		from.len = 0;
		weir_buf_append(&from, lastKey, lastLen);
		weir_buf_byte(&from, 0);
	}
	weir_buf_free(&from);
	return rc;
}

/* --- Timers -------------------------------------------------------------- */

/* weir_timer_set registers an event-time (WEIR_KIND_EVENT_TIMER) or
 * processing-time (WEIR_KIND_PROCESSING_TIMER) timer at ms for the key of
 * entry. The timer later arrives as an entry of that kind. */
static inline int weir_timer_set(uint32_t entry, uint32_t kind, int64_t ms) {
	return (int)weir_host_timer_set(entry, kind, ms);
}

/* weir_timer_delete deletes that timer (absent: WEIR_OK). */
static inline int weir_timer_delete(uint32_t entry, uint32_t kind, int64_t ms) {
	return (int)weir_host_timer_delete(entry, kind, ms);
}

/* --- The exports --------------------------------------------------------- */

/* WEIR_MIN_RESERVE_BYTES is the smallest input buffer weir_reserve hands out. */
#define WEIR_MIN_RESERVE_BYTES (64u << 10)

WEIR__SHARED uint8_t *weir__input;  /* the buffer weir_v1_reserve returned last */
WEIR__SHARED uint32_t weir__input_cap;

/* weir_reserve implements weir_v1_reserve (ABI §3): a buffer of at least
 * size bytes, reused while it is big enough; 0 if memory cannot grow. */
static inline uint32_t weir_reserve(uint32_t size) {
	if (weir__input && weir__input_cap >= size) return (uint32_t)(uintptr_t)weir__input;
	uint8_t *p = (uint8_t *)weir_alloc(size < WEIR_MIN_RESERVE_BYTES ? WEIR_MIN_RESERVE_BYTES : size);
	if (!p) return 0;
	weir_free(weir__input);
	weir__input = p;
	weir__input_cap = weir_alloc_cap(p);
	return (uint32_t)(uintptr_t)p;
}

/* weir_input returns the bytes [ptr, ptr+len) the host handed to an export,
 * or NULL if they do not lie within the buffer weir_reserve returned. A
 * length of 0 needs no buffer (ABI §10: an empty configuration comes as
 * (0, 0)); it returns a non-NULL pointer to no bytes. */
static inline uint8_t *weir_input(uint32_t ptr, uint32_t len) {
	static uint8_t empty[1];
	if (len == 0) return empty;
	uint32_t base = (uint32_t)(uintptr_t)weir__input;
	if (!weir__input || ptr < base || (uint64_t)(ptr - base) + len > weir__input_cap) return NULL;
	return weir__input + (ptr - base);
}

/* weir_entry_fn is an operator callback: one entry (a record, or a fired
 * timer) of batch b. It returns WEIR_OK or a status code. */
typedef int (*weir_entry_fn)(const weir_batch *b, const weir_entry *e);

/* weir__entry_failed gives a failing entry a message if the callback left
 * none, and returns code. */
static inline __attribute__((noinline, cold)) int weir__entry_failed(int code, uint32_t index) {
	if (!weir__error_set) {
		weir_buf m = {0, 0, 0};
		weir_buf_str(&m, "entry ");
		weir_buf_u64(&m, index);
		weir_buf_str(&m, ": status ");
		weir_buf_i64(&m, code);
		weir_fail_buf(code, &m);
	}
	return code;
}

/* weir_run implements weir_v1_process (ABI §3): it walks the batch at
 * [ptr, ptr+len), calls on_record for each record and on_timer (if not
 * NULL) for each fired timer, and emits the buffered records at the end. It
 * stops at the first entry whose callback returns a non-zero code and
 * returns it; the cursor then names that entry. */
static inline int weir_run(uint32_t ptr, uint32_t len, weir_entry_fn on_record, weir_entry_fn on_timer) {
	weir__begin_call();
	uint8_t *data = weir_input(ptr, len);
	if (!data) return weir_fail(WEIR_OUT_OF_BOUNDS, "weir_v1_process: the batch is not within the buffer weir_v1_reserve returned");
	weir_batch b;
	if (weir_batch_init(&b, data, len) != WEIR_OK) return weir_fail(WEIR_MALFORMED, "weir_v1_process: the batch header is malformed");
	weir_entry e;
	while (weir_batch_next(&b, &e)) {
		int c = WEIR_OK;
		if (e.kind == WEIR_KIND_RECORD) {
			c = on_record(&b, &e);
		} else if (on_timer) {
			c = on_timer(&b, &e);
		}
		if (c == WEIR_OK) c = weir__emit_status;
		if (c != WEIR_OK) return weir__entry_failed(c, e.index);
	}
	if (b.status != WEIR_OK) return weir_fail(b.status, "weir_v1_process: an entry runs past the end of the batch");
	return weir_flush();
}

/* WEIR_OPERATOR(on_record, on_timer) defines the exports weir_v1_reserve and
 * weir_v1_process of an operator whose callbacks are on_record (required)
 * and on_timer (NULL: fired timers are ignored). Use it once per module. */
#define WEIR_OPERATOR(on_record, on_timer)                                                     \
	WEIR_EXPORT("weir_v1_reserve") uint32_t weir__export_reserve(uint32_t size) {           \
		return weir_reserve(size);                                                          \
	}                                                                                       \
	WEIR_EXPORT("weir_v1_process") uint32_t weir__export_process(uint32_t ptr, uint32_t len) { \
		return (uint32_t)weir_run(ptr, len, on_record, on_timer);                           \
	}

/* weir_init_fn receives the operator's configuration (the job spec's config,
 * as JSON; possibly empty) once per instance, before the first batch. It
 * returns WEIR_OK or a status code, which fails the instance. */
typedef int (*weir_init_fn)(const uint8_t *config, uint32_t len);

/* WEIR_INIT(on_init) defines the export weir_v1_init, calling on_init. */
#define WEIR_INIT(on_init)                                                                     \
	WEIR_EXPORT("weir_v1_init") uint32_t weir__export_init(uint32_t ptr, uint32_t len) {    \
		weir__begin_call();                                                                 \
		const uint8_t *cfg = weir_input(ptr, len);                                          \
		if (!cfg)                                                                           \
			return (uint32_t)weir_fail(WEIR_OUT_OF_BOUNDS,                                  \
			                           "weir_v1_init: the configuration is not within the buffer weir_v1_reserve returned"); \
		return (uint32_t)on_init(cfg, len);                                                 \
	}

#ifdef __cplusplus
}
#endif

#endif /* WEIR_H */
