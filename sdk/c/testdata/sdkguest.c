/* sdkguest is the test guest of the C SDK's own helpers, driven by
 * internal/conformancetest (csdk_test.go) through the real host. Each
 * record's value is a command; its result is emitted with the record's key:
 *
 *   i64:<s>          "ok <v>" or "err": weir_parse_i64 of s, v formatted back
 *   u64:<s>          the same with weir_parse_u64 and weir_format_u64
 *   alloc:<n>        allocates n blocks of sizes 1 B .. 1 MiB, fills them,
 *                    frees and reallocates some, checks every byte, frees
 *                    all; "ok <heap bytes>" (the top of the heap)
 *   put:<n>          stores n bytes (byte i is i % 251) in value state "blob"
 *   get              reads "blob" with weir_state_read: "<len> <checksum>"
 *   fill             puts 300 pairs in map state "big" (user key: u64
 *                    big-endian i; value: 1000 bytes of i, pair 150: 300 000
 *                    bytes 'L')
 *   range            weir_state_scan over "big": "<pairs> pairs, <bytes> bytes"
 *                    if the keys come in order, else fails with 100
 *   flood:<n>        emits n records of 1000 bytes (value: index, padded)
 *   port:<p>         emits the record to port p (256 is out of range)
 *   config           the configuration weir_v1_init received
 */
#include "weir.h"

static weir_buf config;
static weir_buf value;
static weir_buf scanbuf;

static int on_init(const uint8_t *cfg, uint32_t len) {
	config.len = 0;
	weir_buf_append(&config, cfg, len);
	return WEIR_OK;
}

static int emit_text(const weir_entry *e, const uint8_t *p, uint32_t n) {
	weir_record r = weir_record_of(e);
	r.value = p;
	r.value_len = n;
	r.headers = NULL;
	r.headers_len = 0;
	return weir_emit(0, &r);
}

static bool cmd(const weir_entry *e, const char *name, const uint8_t **arg, uint32_t *arg_len) {
	uint32_t n = weir_strlen(name);
	if (e->value_len < n || !weir_bytes_equal(e->value, name, n)) return false;
	*arg = e->value + n;
	*arg_len = e->value_len - n;
	return true;
}

/* lcg is a small deterministic generator of block sizes. */
static uint32_t lcg(uint32_t *s) {
	*s = *s * 1664525u + 1013904223u;
	return *s >> 8;
}

static int alloc_test(const weir_entry *e, uint32_t n) {
	if (n > 4096) return weir_fail(WEIR_ERROR, "alloc: too many blocks");
	uint8_t **blocks = (uint8_t **)weir_must_alloc(n * sizeof(uint8_t *));
	uint32_t *sizes = (uint32_t *)weir_must_alloc(n * sizeof(uint32_t));
	uint32_t seed = 42;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t r = lcg(&seed);
		sizes[i] = 1 + (r % ((r & 1) ? 1000u : (1u << 20)));
		blocks[i] = (uint8_t *)weir_must_alloc(sizes[i]);
		if (((uintptr_t)blocks[i] & 7) != 0) return weir_fail(WEIR_ERROR, "alloc: block not aligned to 8");
		if (weir_alloc_cap(blocks[i]) < sizes[i]) return weir_fail(WEIR_ERROR, "alloc: block smaller than asked");
		__builtin_memset(blocks[i], (int)(i & 0xff), sizes[i]);
		if (i % 3 == 2) { /* free one, reallocate another to a new size */
			weir_free(blocks[i - 1]);
			sizes[i - 1] = 1 + lcg(&seed) % 5000u;
			blocks[i - 1] = (uint8_t *)weir_must_alloc(sizes[i - 1]);
			__builtin_memset(blocks[i - 1], (int)((i - 1) & 0xff), sizes[i - 1]);
			uint32_t grown = sizes[i - 2] * 3 + 10;
			blocks[i - 2] = (uint8_t *)weir_realloc(blocks[i - 2], grown);
			if (!blocks[i - 2]) return weir_fail(WEIR_ERROR, "alloc: realloc failed");
			for (uint32_t j = 0; j < sizes[i - 2]; j++)
				if (blocks[i - 2][j] != (uint8_t)((i - 2) & 0xff)) return weir_fail(WEIR_ERROR, "alloc: realloc lost the contents");
			__builtin_memset(blocks[i - 2], (int)((i - 2) & 0xff), grown);
			sizes[i - 2] = grown;
		}
	}
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < sizes[i]; j++)
			if (blocks[i][j] != (uint8_t)(i & 0xff)) return weir_fail(WEIR_ERROR, "alloc: a block was overwritten");
	for (uint32_t i = 0; i < n; i++) weir_free(blocks[i]);
	weir_free(blocks);
	weir_free(sizes);
	value.len = 0;
	weir_buf_str(&value, "ok ");
	weir_buf_u64(&value, weir__heap_top);
	return emit_text(e, value.data, value.len);
}

struct range_state {
	uint64_t next, pairs, bytes;
	bool ordered;
};

static int range_pair(void *arg, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl) {
	(void)v;
	struct range_state *s = (struct range_state *)arg;
	if (kl != 8 || weir_load_be64(k) != s->next) {
		s->ordered = false;
		return 1;
	}
	s->next++;
	s->pairs++;
	s->bytes += vl;
	return 0;
}

static int on_record(const weir_batch *b, const weir_entry *e) {
	(void)b;
	const uint8_t *arg;
	uint32_t n;
	uint8_t num[WEIR_MAX_DECIMAL_BYTES + 3];
	if (cmd(e, "i64:", &arg, &n)) {
		int64_t v;
		if (!weir_parse_i64(arg, n, &v)) return emit_text(e, (const uint8_t *)"err", 3);
		num[0] = 'o', num[1] = 'k', num[2] = ' ';
		return emit_text(e, num, 3 + weir_format_i64(num + 3, v));
	}
	if (cmd(e, "u64:", &arg, &n)) {
		uint64_t v;
		if (!weir_parse_u64(arg, n, &v)) return emit_text(e, (const uint8_t *)"err", 3);
		num[0] = 'o', num[1] = 'k', num[2] = ' ';
		return emit_text(e, num, 3 + weir_format_u64(num + 3, v));
	}
	if (cmd(e, "alloc:", &arg, &n)) {
		uint64_t count;
		if (!weir_parse_u64(arg, n, &count)) return weir_fail(WEIR_ERROR, "alloc: bad count");
		return alloc_test(e, (uint32_t)count);
	}
	if (cmd(e, "put:", &arg, &n)) {
		uint64_t size;
		if (!weir_parse_u64(arg, n, &size) || size > WEIR_MAX_VALUE_BYTES) return weir_fail(WEIR_ERROR, "put: bad size");
		value.len = 0;
		weir_buf_grow(&value, (uint32_t)size);
		for (uint32_t i = 0; i < size; i++) value.data[i] = (uint8_t)(i % 251);
		return weir_state_write(e->index, "blob", NULL, 0, value.data, (uint32_t)size);
	}
	if (weir_bytes_is(e->value, e->value_len, "get")) {
		weir_buf got = {0, 0, 0}; /* empty: the first state_get cannot hold the value */
		int c = weir_state_read(e->index, "blob", NULL, 0, &got);
		if (c != WEIR_OK) return c;
		uint64_t sum = 0;
		for (uint32_t i = 0; i < got.len; i++) sum = sum * 31 + got.data[i];
		value.len = 0;
		weir_buf_u64(&value, got.len);
		weir_buf_byte(&value, ' ');
		weir_buf_u64(&value, sum);
		weir_buf_free(&got);
		return emit_text(e, value.data, value.len);
	}
	if (weir_bytes_is(e->value, e->value_len, "fill")) {
		for (uint64_t i = 0; i < 300; i++) {
			uint8_t k[8];
			weir_store_be64(k, i);
			uint32_t size = i == 150 ? 300000 : 1000;
			value.len = 0;
			weir_buf_grow(&value, size);
			__builtin_memset(value.data, i == 150 ? 'L' : (int)i, size);
			int c = weir_state_write(e->index, "big", k, 8, value.data, size);
			if (c != WEIR_OK) return c;
		}
		return WEIR_OK;
	}
	if (weir_bytes_is(e->value, e->value_len, "range")) {
		struct range_state s = {0, 0, 0, true};
		int c = weir_state_scan(e->index, "big", NULL, 0, &scanbuf, range_pair, &s);
		if (c != WEIR_OK) return c;
		if (!s.ordered) return weir_fail(WEIR_ERROR, "range: keys out of order");
		value.len = 0;
		weir_buf_u64(&value, s.pairs);
		weir_buf_str(&value, " pairs, ");
		weir_buf_u64(&value, s.bytes);
		weir_buf_str(&value, " bytes");
		return emit_text(e, value.data, value.len);
	}
	if (cmd(e, "flood:", &arg, &n)) {
		uint64_t count;
		if (!weir_parse_u64(arg, n, &count)) return weir_fail(WEIR_ERROR, "flood: bad count");
		uint8_t rec[1000];
		__builtin_memset(rec, '.', sizeof rec);
		for (uint64_t i = 0; i < count; i++) {
			weir_format_u64(rec, i);
			int c = emit_text(e, rec, sizeof rec);
			if (c != WEIR_OK) return c;
		}
		return WEIR_OK;
	}
	if (cmd(e, "port:", &arg, &n)) {
		uint64_t port;
		if (!weir_parse_u64(arg, n, &port)) return weir_fail(WEIR_ERROR, "port: bad port");
		weir_record r = weir_record_of(e);
		return weir_emit((uint32_t)port, &r);
	}
	if (weir_bytes_is(e->value, e->value_len, "config")) return emit_text(e, config.data, config.len);
	return weir_fail(WEIR_ERROR, "sdkguest: unknown command");
}

WEIR_OPERATOR(on_record, NULL)
WEIR_INIT(on_init)
