/* upper is the stateless reference operator of the behaviour vectors
 * (abi/testdata/operators/README.md): each record is emitted with its value
 * in ASCII upper case (bytes a-z become A-Z, every other byte is kept), with
 * the same key and headers and the record's timestamp and tracking id. */
#include "weir.h"

static int upper(const weir_batch *b, const weir_entry *e) {
	(void)b;
	uint8_t *v = weir_scratch(e->value_len);
	for (uint32_t i = 0; i < e->value_len; i++) {
		uint8_t c = e->value[i];
		v[i] = (c >= 'a' && c <= 'z') ? (uint8_t)(c - ('a' - 'A')) : c;
	}
	weir_record r = weir_record_of(e);
	r.value = v;
	return weir_emit(0, &r);
}

WEIR_OPERATOR(upper, NULL)
