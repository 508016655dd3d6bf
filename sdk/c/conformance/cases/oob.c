/* oob is the out-of-bounds case of the conformance suite
 * (internal/conformancetest): it emits every record unchanged, except on two
 * keys:
 *
 *   - "poison": it calls the host functions with pointer/length pairs that
 *     lie outside its memory, one pair at a time, and emits the key with a
 *     report of the results as value, "state_get_name=-3 state_get_out=-3
 *     ...", in the order of the calls below, no headers, and the record's
 *     timestamp and tracking id (the host must answer OUT_OF_BOUNDS, 3,
 *     negated in the i64 results, and never touch memory out of range). It
 *     also calls log and set_error with out-of-range messages, which have no
 *     result, and returns 0.
 *   - "poison-emit": it calls emit with a batch outside its memory and
 *     returns 0; the host must fail the batch with OUT_OF_BOUNDS anyway.
 *
 * OUTSIDE with OUTSIDE_LEN runs past the end of the 32-bit address space; a
 * value pointer in memory with HUGE_LEN runs past the end of memory. */
#include "weir.h"

#define OUTSIDE 0xfffffff0u
#define OUTSIDE_LEN 32u
#define HUGE_LEN 0xffffff00u

static weir_buf report;

static void note(const char *what, int64_t result) {
	if (report.len) weir_buf_byte(&report, ' ');
	weir_buf_str(&report, what);
	weir_buf_byte(&report, '=');
	weir_buf_i64(&report, result);
}

/* at turns an address into a pointer for the host function declarations. */
static void *at(uint32_t addr) { return (void *)(uintptr_t)addr; }

static int on_record(const weir_batch *b, const weir_entry *e) {
	(void)b;
	uint32_t i = e->index;
	uint8_t out[64];
	if (weir_bytes_is(e->key, e->key_len, "poison")) {
		report.len = 0;
		note("state_get_name", weir_host_state_get(i, at(OUTSIDE), OUTSIDE_LEN, NULL, 0, out, sizeof out));
		note("state_get_out", weir_host_state_get(i, "s", 1, NULL, 0, at(OUTSIDE), OUTSIDE_LEN));
		note("state_put_key", weir_host_state_put(i, "s", 1, at(OUTSIDE), OUTSIDE_LEN, "v", 1));
		note("state_put_value", weir_host_state_put(i, "s", 1, NULL, 0, out, HUGE_LEN));
		note("state_delete_key", weir_host_state_delete(i, "s", 1, at(OUTSIDE), OUTSIDE_LEN));
		note("state_clear_name", weir_host_state_clear(i, at(OUTSIDE), OUTSIDE_LEN));
		note("state_scan_start", weir_host_state_scan(i, "s", 1, at(OUTSIDE), OUTSIDE_LEN, out, sizeof out));
		note("state_scan_out", weir_host_state_scan(i, "s", 1, NULL, 0, at(OUTSIDE), OUTSIDE_LEN));
		weir_host_log(WEIR_LEVEL_INFO, at(OUTSIDE), OUTSIDE_LEN);
		weir_host_set_error(at(OUTSIDE), OUTSIDE_LEN);
		weir_record r = weir_record_of(e);
		r.value = report.data;
		r.value_len = report.len;
		r.headers = NULL;
		r.headers_len = 0;
		return weir_emit(0, &r);
	}
	if (weir_bytes_is(e->key, e->key_len, "poison-emit")) {
		weir_host_emit(0, at(OUTSIDE), OUTSIDE_LEN);
		return WEIR_OK;
	}
	weir_record r = weir_record_of(e);
	return weir_emit(0, &r);
}

WEIR_OPERATOR(on_record, NULL)
