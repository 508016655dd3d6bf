/* call is the reference operator of the behaviour vectors for the journaled
 * external call of ABI §5.3 (abi/testdata/operators/README.md): a record's
 * value is "ENDPOINT:REQUEST"; it calls ENDPOINT with REQUEST and the
 * idempotency key "k-REQUEST", and emits the record's key with "STATUS BODY",
 * or "code N" when the call failed with code N, with the record's timestamp
 * and tracking id. */
#include "weir.h"

static weir_buf endpoint, key, body, out;

static int on_record(const weir_batch *b, const weir_entry *e) {
	(void)b;
	uint32_t i = 0;
	while (i < e->value_len && e->value[i] != ':') i++;
	const uint8_t *req = e->value + (i < e->value_len ? i + 1 : i);
	uint32_t req_len = e->value_len - (uint32_t)(req - e->value);
	endpoint.len = 0;
	weir_buf_append(&endpoint, e->value, i);
	weir_buf_append(&endpoint, (const uint8_t *)"", 1); /* weir_call takes a C string */
	key.len = 0;
	weir_buf_append(&key, (const uint8_t *)"k-", 2);
	weir_buf_append(&key, req, req_len);
	uint32_t status = 0;
	uint8_t num[WEIR_MAX_DECIMAL_BYTES];
	out.len = 0;
	int c = weir_call(e->index, (const char *)endpoint.data, req, req_len, key.data, key.len, &status, &body);
	if (c == WEIR_OK) {
		weir_buf_append(&out, num, weir_format_u64(num, status));
		weir_buf_append(&out, (const uint8_t *)" ", 1);
		weir_buf_append(&out, body.data, body.len);
	} else {
		weir_buf_append(&out, (const uint8_t *)"code ", 5);
		weir_buf_append(&out, num, weir_format_u64(num, (uint64_t)c));
	}
	weir_record r = weir_record_of(e);
	r.value = out.data;
	r.value_len = out.len;
	r.headers = NULL;
	r.headers_len = 0;
	return weir_emit(0, &r);
}

WEIR_OPERATOR(on_record, NULL)
