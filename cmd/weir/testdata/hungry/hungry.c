/*
 * hungry is a hostile Weir operator for the guest memory tests (issue 14): on
 * its first batch it grows its linear memory until memory.grow fails and then
 * traps. Its configuration (a JSON string) picks how:
 *
 *   "one"          grow by 1 page at a time, writing each new page;
 *   "steps"        grow by 16 pages at a time, writing each new page;
 *   "under:PAGES"  grow in one step to PAGES-1 pages (PAGES is the limit),
 *                  write each new page, then ask for 2 more pages.
 *
 * Whatever the mode, once memory.grow returns -1 the guest executes
 * unreachable: the run must fail at once with a memory-exhausted error, and
 * the host must not have paid more than the limit for it.
 *
 * It needs no SDK: it exports memory (wasm-ld does), weir_v1_reserve,
 * weir_v1_init and weir_v1_process.
 */
#include <stdint.h>

#define PAGE 65536u

static unsigned char buf[256u << 10]; /* the input buffer */
static char mode;                     /* 'o', 's' or 'u' */
static uint32_t limit_pages;          /* of "under:PAGES" */

__attribute__((export_name("weir_v1_reserve"))) uint32_t reserve(uint32_t n) {
  return n <= sizeof buf ? (uint32_t)(uintptr_t)buf : 0;
}

__attribute__((export_name("weir_v1_init"))) uint32_t init(uint32_t ptr, uint32_t len) {
  const char *c = (const char *)(uintptr_t)ptr;
  if (len < 2 || c[0] != '"') return 1; /* INVALID */
  mode = c[1];
  for (uint32_t i = 7; i < len && c[i] >= '0' && c[i] <= '9'; i++) /* after "under: */
    limit_pages = limit_pages * 10 + (uint32_t)(c[i] - '0');
  return 0;
}

/* grow grows memory by pages and writes a byte to every 4 KiB of each new
 * page, so that the host backs all of it (the worst case); it traps when
 * memory.grow fails. */
static void grow(uint32_t pages) {
  int32_t old = (int32_t)__builtin_wasm_memory_grow(0, pages);
  if (old == -1) __builtin_trap();
  for (uint32_t at = (uint32_t)old * PAGE; at < ((uint32_t)old + pages) * PAGE; at += 4096)
    *(volatile unsigned char *)(uintptr_t)at = 1;
}

__attribute__((export_name("weir_v1_process"))) uint32_t process(uint32_t ptr, uint32_t len) {
  (void)ptr, (void)len;
  switch (mode) {
  case 'o':
    for (;;) grow(1);
  case 's':
    for (;;) grow(16);
  case 'u':
    grow(limit_pages - 1 - (uint32_t)__builtin_wasm_memory_size(0));
    grow(2);
  }
  return 1;
}
