/* filter is the C build of the stateless operator of the engine benchmarks
 * (internal/enginebench/filter): it keeps the records whose key ends in an
 * even digit and emits them with the first byte of the value upper-cased
 * (a map and a filter in one), with the record's key, timestamp and tracking
 * id and no headers. */
#include "weir.h"

static int filter(const weir_batch *b, const weir_entry *e) {
	(void)b;
	/* As the Go build: (last byte - '0') % 2 in byte arithmetic. */
	if (e->key_len == 0 || (uint8_t)(e->key[e->key_len - 1] - '0') % 2 != 0) return WEIR_OK;
	weir_record r = weir_record_of(e);
	r.headers_len = 0;
	if (e->value_len == 0 || e->value[0] < 'a' || e->value[0] > 'z') return weir_emit(0, &r);
	uint8_t *v = weir_scratch(e->value_len);
	__builtin_memcpy(v, e->value, e->value_len);
	v[0] -= 'a' - 'A';
	r.value = v;
	return weir_emit(0, &r);
}

WEIR_OPERATOR(filter, NULL)
