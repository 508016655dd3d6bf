/* status42 is the unknown-status case of the conformance suite
 * (internal/conformancetest): it emits every record unchanged, except that a
 * record whose key is "poison" makes weir_v1_process return 42, a code in
 * the range ABI v1 reserves (1..99) that it does not define. */
#include "weir.h"

static int on_record(const weir_batch *b, const weir_entry *e) {
	(void)b;
	if (weir_bytes_is(e->key, e->key_len, "poison")) return weir_fail(42, "status 42 on purpose");
	weir_record r = weir_record_of(e);
	return weir_emit(0, &r);
}

WEIR_OPERATOR(on_record, NULL)
