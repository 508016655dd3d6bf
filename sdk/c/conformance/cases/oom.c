/* oom is the oversized-allocation case of the conformance suite
 * (internal/conformancetest): it emits every record unchanged, except that on
 * a record whose key is "poison" it allocates 1 GiB, which no memory limit of
 * the suite allows, and fills it; the allocation fails and the guest panics
 * (weir_must_alloc). */
#include "weir.h"

#define HUGE_BYTES (1u << 30)

static int on_record(const weir_batch *b, const weir_entry *e) {
	(void)b;
	if (weir_bytes_is(e->key, e->key_len, "poison")) {
		uint8_t *p = (uint8_t *)weir_must_alloc(HUGE_BYTES);
		__builtin_memset(p, 1, HUGE_BYTES);
		return p[HUGE_BYTES - 1] == 1 ? WEIR_ERROR : WEIR_OK; /* not reached */
	}
	weir_record r = weir_record_of(e);
	return weir_emit(0, &r);
}

WEIR_OPERATOR(on_record, NULL)
