/* sideoutput is the side-output reference operator of the behaviour vectors
 * (abi/testdata/operators/README.md). Each record's value is
 * "<port>:<payload>"; the record's key, the payload and the record's headers
 * are emitted to that port (0..255). The emitted record has the record's
 * timestamp and tracking id unless a header "timestamp" (decimal ms, or
 * "none" for no timestamp) or "tracking-id" (decimal) sets them. A value
 * without a port in 0..255 fails the batch with code 103.
 *
 * NB: as in the Go reference, a header value of 0 keeps the record's own
 * timestamp or tracking id: the Go SDK reads 0 as "inherit" and cannot stamp
 * 0 explicitly, and the builds of every language must emit the same bytes. */
#include "weir.h"

#define CODE_BAD_VALUE 103

static int bad(const weir_entry *e, const char *why) {
	weir_buf m = {0, 0, 0};
	weir_buf_str(&m, "sideoutput: value ");
	weir_buf_quote(&m, e->value, e->value_len);
	weir_buf_str(&m, why);
	return weir_fail_buf(CODE_BAD_VALUE, &m);
}

static int on_record(const weir_batch *b, const weir_entry *e) {
	(void)b;
	uint32_t colon = 0;
	while (colon < e->value_len && e->value[colon] != ':') colon++;
	int64_t port;
	if (colon == e->value_len || !weir_parse_i64(e->value, colon, &port) || port < 0 || port > WEIR_MAX_PORT)
		return bad(e, " does not start with a port 0..255 and a colon");
	weir_record r = weir_record_of(e);
	r.value = e->value + colon + 1;
	r.value_len = e->value_len - colon - 1;
	const uint8_t *h;
	uint32_t hl;
	if (weir_header_get(e, "timestamp", &h, &hl)) {
		int64_t ts;
		if (weir_bytes_is(h, hl, "none")) {
			r.timestamp = WEIR_NO_TIMESTAMP;
		} else if (!weir_parse_i64(h, hl, &ts)) {
			return bad(e, ": header timestamp is not a decimal int64 or none");
		} else if (ts != 0) {
			r.timestamp = ts;
		}
	}
	if (weir_header_get(e, "tracking-id", &h, &hl)) {
		uint64_t id;
		if (!weir_parse_u64(h, hl, &id)) return bad(e, ": header tracking-id is not a decimal uint64");
		if (id != 0) r.tracking_id = id;
	}
	return weir_emit((uint32_t)port, &r);
}

WEIR_OPERATOR(on_record, NULL)
