/* abiv2 is the wrong-version case of the conformance suite
 * (internal/conformancetest): a module built for a Weir ABI v2 that does not
 * exist. It exports weir_v2_reserve and weir_v2_process instead of the v1
 * names, so the host must refuse to load it and say which version it asks
 * for. */
#include "weir.h"

WEIR_EXPORT("weir_v2_reserve") uint32_t reserve_v2(uint32_t size) { return weir_reserve(size); }

WEIR_EXPORT("weir_v2_process") uint32_t process_v2(uint32_t ptr, uint32_t len) {
	(void)ptr;
	(void)len;
	return 0;
}
