/* tumblecount is the windowed reference operator of the behaviour vectors
 * (abi/testdata/operators/README.md): it counts each key's records in
 * event-time tumbling windows of 10 000 ms, [k*10000, (k+1)*10000), without
 * allowed lateness. A window fires when the watermark reaches its end - 1
 * (an event-time timer at end - 1): the key is emitted with the count in
 * decimal, headers window-start and window-end, timestamp end - 1 and
 * tracking id 0, and the window is forgotten. A record whose window has
 * fired (end - 1 <= watermark) is late and goes unchanged to port 1. A
 * record without a timestamp fails the batch with code 100.
 *
 * The counts are the map state "counts", whose user keys are the windows
 * (start and end, 8 bytes each, big-endian with the sign bit flipped) and
 * whose values are the counts as weir_state_put_i64 writes them: the layout
 * of the Go SDK's WindowState, so the Go and C builds can take over each
 * other's state. */
#include "weir.h"

#define WINDOW_MS 10000
#define LATE_PORT 1
#define STATE "counts"

/* floor_mod returns a mod b in [0, b), also for negative a. */
static int64_t floor_mod(int64_t a, int64_t b) { return ((a % b) + b) % b; }

/* wrap_add is a + b with two's complement wrap-around, as in Go. */
static int64_t wrap_add(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }

static void window_key(uint8_t out[16], int64_t start, int64_t end) {
	const uint64_t sign = (uint64_t)1 << 63;
	weir_store_be64(out, (uint64_t)start ^ sign);
	weir_store_be64(out + 8, (uint64_t)end ^ sign);
}

static int on_record(const weir_batch *b, const weir_entry *e) {
	int64_t ts = e->timestamp;
	if (ts == WEIR_NO_TIMESTAMP) {
		weir_buf m = {0, 0, 0};
		weir_buf_str(&m, "tumblecount: record with key ");
		weir_buf_quote(&m, e->key, e->key_len);
		weir_buf_str(&m, " has no timestamp; event-time windows need one");
		return weir_fail_buf(WEIR_ERROR, &m);
	}
	int64_t start = wrap_add(ts, -floor_mod(ts, WINDOW_MS));
	int64_t end = wrap_add(start, WINDOW_MS);
	int64_t max_ts = wrap_add(end, -1);
	if (b->watermark != WEIR_NO_TIMESTAMP && max_ts <= b->watermark) {
		weir_record late = weir_record_of(e);
		return weir_emit(LATE_PORT, &late);
	}
	uint8_t key[16];
	window_key(key, start, end);
	int64_t n;
	int c = weir_state_get_i64(e->index, STATE, key, sizeof key, &n);
	if (c != WEIR_OK && c != WEIR_NOT_FOUND) return c;
	bool found = c == WEIR_OK;
	if ((c = weir_state_put_i64(e->index, STATE, key, sizeof key, n + 1)) != WEIR_OK) return c;
	if (!found && max_ts > b->watermark) return weir_timer_set(e->index, WEIR_KIND_EVENT_TIMER, max_ts);
	return WEIR_OK;
}

static int on_timer(const weir_batch *b, const weir_entry *e) {
	(void)b;
	if (e->kind != WEIR_KIND_EVENT_TIMER || e->timestamp == INT64_MAX) return WEIR_OK;
	int64_t end = e->timestamp + 1, start = wrap_add(end, -WINDOW_MS);
	uint8_t key[16];
	window_key(key, start, end);
	int64_t n;
	int c = weir_state_get_i64(e->index, STATE, key, sizeof key, &n);
	if (c == WEIR_NOT_FOUND) return WEIR_OK;
	if (c != WEIR_OK) return c;

	uint8_t count[WEIR_MAX_DECIMAL_BYTES], num[WEIR_MAX_DECIMAL_BYTES];
	static weir_buf headers;
	headers.len = 0;
	weir_buf_header(&headers, "window-start", num, weir_format_i64(num, start));
	weir_buf_header(&headers, "window-end", num, weir_format_i64(num, end));
	weir_record r = weir_record_of(e); /* the timer's key, time and tracking id 0 */
	r.value = count;
	r.value_len = weir_format_i64(count, n);
	r.headers = headers.data;
	r.headers_len = headers.len;
	if ((c = weir_emit(0, &r)) != WEIR_OK) return c;
	return weir_state_delete(e->index, STATE, key, sizeof key);
}

WEIR_OPERATOR(on_record, on_timer)
