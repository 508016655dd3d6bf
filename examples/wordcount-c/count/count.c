/* count is the second operator of the C word count: a keyed count of records
 * per key, in the value state "count" (8 bytes big-endian with the sign bit
 * flipped, as the Go SDK's Int64 codec writes it, so that the Go and C
 * builds can take over each other's state).
 *
 * By default it emits each key's final count when the input ends: the first
 * record of a key sets an event-time timer at INT64_MAX, which fires when the
 * watermark reaches the end of time, once every bounded source is exhausted.
 * With the configuration {"mode": "running"} it emits the updated count with
 * every record instead, which suits unbounded input. (The same operator as
 * examples/wordcount/count, in C.) */
#include "weir.h"

#define STATE "count"
#define END_OF_TIME INT64_MAX

static bool running;

/* skip_space returns the index of the first byte at or after i that is not
 * JSON whitespace. */
static uint32_t skip_space(const uint8_t *p, uint32_t n, uint32_t i) {
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')) i++;
	return i;
}

/* json_string reads the JSON string at p[*i] (without escapes, which no
 * valid mode needs) and advances *i past it. */
static bool json_string(const uint8_t *p, uint32_t n, uint32_t *i, const uint8_t **s, uint32_t *len) {
	if (*i >= n || p[*i] != '"') return false;
	uint32_t start = ++*i;
	while (*i < n && p[*i] != '"') {
		if (p[*i] == '\\') return false;
		++*i;
	}
	if (*i >= n) return false;
	*s = p + start;
	*len = *i - start;
	++*i;
	return true;
}

static int bad_config(const char *why, const uint8_t *mode, uint32_t mode_len) {
	weir_buf m = {0, 0, 0};
	weir_buf_str(&m, "count: config: ");
	if (mode) {
		weir_buf_str(&m, "mode ");
		weir_buf_quote(&m, mode, mode_len);
		weir_buf_str(&m, ": ");
	}
	weir_buf_str(&m, why);
	return weir_fail_buf(WEIR_ERROR, &m);
}

/* on_init reads the configuration: empty, or a JSON object whose only key
 * is "mode", "final" (the default) or "running". */
static int on_init(const uint8_t *cfg, uint32_t n) {
	running = false;
	uint32_t i = skip_space(cfg, n, 0);
	if (i == n) return WEIR_OK;
	if (cfg[i] != '{') return bad_config("want a JSON object such as {\"mode\": \"running\"}", NULL, 0);
	i = skip_space(cfg, n, i + 1);
	if (i < n && cfg[i] == '}') return skip_space(cfg, n, i + 1) == n ? WEIR_OK : bad_config("bytes after the object", NULL, 0);
	const uint8_t *key, *mode;
	uint32_t key_len, mode_len;
	if (!json_string(cfg, n, &i, &key, &key_len) || !weir_bytes_is(key, key_len, "mode"))
		return bad_config("want the key \"mode\" and nothing else", NULL, 0);
	i = skip_space(cfg, n, i);
	if (i >= n || cfg[i] != ':') return bad_config("want a colon after \"mode\"", NULL, 0);
	i = skip_space(cfg, n, i + 1);
	if (!json_string(cfg, n, &i, &mode, &mode_len)) return bad_config("mode must be a string", NULL, 0);
	i = skip_space(cfg, n, i);
	if (i >= n || cfg[i] != '}' || skip_space(cfg, n, i + 1) != n) return bad_config("want the key \"mode\" and nothing else", NULL, 0);
	if (weir_bytes_is(mode, mode_len, "running")) {
		running = true;
	} else if (!weir_bytes_is(mode, mode_len, "final") && mode_len != 0) {
		return bad_config("want \"final\" or \"running\"", mode, mode_len);
	}
	return WEIR_OK;
}

static int emit_count(const weir_entry *e, int64_t n) {
	uint8_t buf[WEIR_MAX_DECIMAL_BYTES];
	weir_record r = weir_record_of(e);
	r.value = buf;
	r.value_len = weir_format_i64(buf, n);
	r.headers_len = 0;
	return weir_emit(0, &r);
}

static int on_record(const weir_batch *b, const weir_entry *e) {
	(void)b;
	int64_t n;
	int c = weir_state_get_i64(e->index, STATE, NULL, 0, &n);
	if (c != WEIR_OK && c != WEIR_NOT_FOUND) return c;
	bool seen = c == WEIR_OK;
	n++;
	if ((c = weir_state_put_i64(e->index, STATE, NULL, 0, n)) != WEIR_OK) return c;
	if (running) return emit_count(e, n);
	return seen ? WEIR_OK : weir_timer_set(e->index, WEIR_KIND_EVENT_TIMER, END_OF_TIME);
}

static int on_timer(const weir_batch *b, const weir_entry *e) {
	(void)b;
	int64_t n;
	int c = weir_state_get_i64(e->index, STATE, NULL, 0, &n);
	if (c != WEIR_OK) return c;
	return emit_count(e, n);
}

WEIR_OPERATOR(on_record, on_timer)
WEIR_INIT(on_init)
