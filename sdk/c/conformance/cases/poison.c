/* poison is the trap case of the conformance suite
 * (internal/conformancetest): it emits every record unchanged, except that a
 * record whose key is "poison" makes it panic (weir_panic: a "panic:" line on
 * stderr, then a trap). */
#include "weir.h"

static int on_record(const weir_batch *b, const weir_entry *e) {
	(void)b;
	if (weir_bytes_is(e->key, e->key_len, "poison")) weir_panic("poisoned record: the guest panics on purpose");
	weir_record r = weir_record_of(e);
	return weir_emit(0, &r);
}

WEIR_OPERATOR(on_record, NULL)
