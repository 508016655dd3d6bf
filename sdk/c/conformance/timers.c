/* timers is the timer reference operator of the behaviour vectors
 * (abi/testdata/operators/README.md). Each record's value is a command for
 * the record's key: event:<ms>, delete-event:<ms>, processing:<ms> or
 * delete-processing:<ms>, which sets or deletes a timer; records emit
 * nothing. A fired timer emits its key with the value
 * "fired event <ms> at watermark <wm>" or "fired processing <ms> at time <pt>"
 * (wm and pt from the batch header), the timer's time as timestamp and
 * tracking id 0. Anything else fails the batch with code 102. */
#include "weir.h"

#define CODE_BAD_COMMAND 102

static int bad_command(const weir_entry *e, const char *why) {
	weir_buf m = {0, 0, 0};
	weir_buf_str(&m, "timers: command ");
	weir_buf_quote(&m, e->value, e->value_len);
	weir_buf_str(&m, why);
	return weir_fail_buf(CODE_BAD_COMMAND, &m);
}

static int on_record(const weir_batch *b, const weir_entry *e) {
	(void)b;
	uint32_t colon = 0;
	while (colon < e->value_len && e->value[colon] != ':') colon++;
	const uint8_t *arg = e->value + colon + (colon < e->value_len ? 1 : 0);
	uint32_t arg_len = colon < e->value_len ? e->value_len - colon - 1 : 0;
	int64_t ms;
	if (!weir_parse_i64(arg, arg_len, &ms)) return bad_command(e, ": bad time");
	if (weir_bytes_is(e->value, colon, "event")) return weir_timer_set(e->index, WEIR_KIND_EVENT_TIMER, ms);
	if (weir_bytes_is(e->value, colon, "delete-event")) return weir_timer_delete(e->index, WEIR_KIND_EVENT_TIMER, ms);
	if (weir_bytes_is(e->value, colon, "processing")) return weir_timer_set(e->index, WEIR_KIND_PROCESSING_TIMER, ms);
	if (weir_bytes_is(e->value, colon, "delete-processing")) return weir_timer_delete(e->index, WEIR_KIND_PROCESSING_TIMER, ms);
	return bad_command(e, ": unknown command");
}

static int on_timer(const weir_batch *b, const weir_entry *e) {
	static weir_buf v;
	v.len = 0;
	if (e->kind == WEIR_KIND_EVENT_TIMER) {
		weir_buf_str(&v, "fired event ");
		weir_buf_i64(&v, e->timestamp);
		weir_buf_str(&v, " at watermark ");
		weir_buf_i64(&v, b->watermark);
	} else {
		weir_buf_str(&v, "fired processing ");
		weir_buf_i64(&v, e->timestamp);
		weir_buf_str(&v, " at time ");
		weir_buf_i64(&v, b->processing_time);
	}
	weir_record r = weir_record_of(e);
	r.value = v.data;
	r.value_len = v.len;
	return weir_emit(0, &r);
}

WEIR_OPERATOR(on_record, on_timer)
