/* runningsum is the keyed reference operator of the behaviour vectors
 * (abi/testdata/operators/README.md): each record's value is a decimal int64
 * (ASCII, optional sign); it is added to the key's sum, kept in the value
 * state "sum" (as weir_state_put_i64 writes it: the Go reference's
 * encoding), and the key is emitted with the new sum in decimal, no headers,
 * and the record's timestamp and tracking id. A value that is not a decimal
 * int64 fails the batch with code 101. */
#include "weir.h"

#define CODE_BAD_VALUE 101

static int runningsum(const weir_batch *b, const weir_entry *e) {
	(void)b;
	int64_t n, sum;
	if (!weir_parse_i64(e->value, e->value_len, &n)) {
		weir_buf m = {0, 0, 0};
		weir_buf_str(&m, "runningsum: value ");
		weir_buf_quote(&m, e->value, e->value_len);
		weir_buf_str(&m, " is not a decimal int64");
		return weir_fail_buf(CODE_BAD_VALUE, &m);
	}
	int c = weir_state_get_i64(e->index, "sum", NULL, 0, &sum);
	if (c != WEIR_OK && c != WEIR_NOT_FOUND) return c;
	sum = (int64_t)((uint64_t)sum + (uint64_t)n); /* wraps, as Go's int64 does */
	if ((c = weir_state_put_i64(e->index, "sum", NULL, 0, sum)) != WEIR_OK) return c;
	uint8_t buf[WEIR_MAX_DECIMAL_BYTES];
	weir_record r = weir_record_of(e);
	r.value = buf;
	r.value_len = weir_format_i64(buf, sum);
	r.headers = NULL;
	r.headers_len = 0;
	return weir_emit(0, &r);
}

WEIR_OPERATOR(runningsum, NULL)
