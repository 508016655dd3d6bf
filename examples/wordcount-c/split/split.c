/* split is the first operator of the C word count: it splits each line into
 * lower-case words and emits one record per word, keyed by the word, with an
 * empty value and the line's timestamp and tracking id. Words are runs of
 * ASCII letters, digits and apostrophes, cut at MAX_WORD_BYTES; everything
 * else separates them. (The same operator as examples/wordcount/split, in
 * C.) */
#include "weir.h"

/* MAX_WORD_BYTES bounds a word; longer runs are cut (a line of one huge
 * token should not become a huge key). */
#define MAX_WORD_BYTES 256

static int emit_word(const weir_entry *e, const uint8_t *word, uint32_t n) {
	weir_record r = weir_record_of(e);
	r.key = word;
	r.key_len = n;
	r.value_len = 0;
	r.headers_len = 0;
	return weir_emit(0, &r);
}

static int split(const weir_batch *b, const weir_entry *e) {
	(void)b;
	uint8_t word[MAX_WORD_BYTES];
	uint32_t n = 0;
	for (uint32_t i = 0; i < e->value_len; i++) {
		uint8_t c = e->value[i];
		if (c >= 'A' && c <= 'Z') {
			c += 'a' - 'A';
		} else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '\'')) {
			if (n > 0) {
				int rc = emit_word(e, word, n);
				if (rc != WEIR_OK) return rc;
				n = 0;
			}
			continue;
		}
		if (n < MAX_WORD_BYTES) word[n++] = c;
	}
	return n > 0 ? emit_word(e, word, n) : WEIR_OK;
}

WEIR_OPERATOR(split, NULL)
