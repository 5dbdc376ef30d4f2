/* Compile-only: sash.h alone, as C99 (make test-c builds this with -std=c99 -Wall -Wextra -Werror -pedantic). */
#include "sash.h"

#ifndef ARROW_C_DATA_INTERFACE
#error "sash.h must define ARROW_C_DATA_INTERFACE"
#endif
#ifndef ARROW_C_STREAM_INTERFACE
#error "sash.h must define ARROW_C_STREAM_INTERFACE"
#endif
#if !defined(SASH_VERSION_MAJOR) || !defined(SASH_VERSION_MINOR) || !defined(SASH_VERSION_PATCH) || !defined(SASH_VERSION)
#error "sash.h must define its version macros"
#endif

int sash_header_c99_check(void);
int sash_header_c99_check(void) {
  struct ArrowArray a;
  struct ArrowSchema s;
  struct ArrowArrayStream st;
  sash_status (*fns[])(struct ArrowArray *, struct ArrowSchema *, const char *, struct ArrowArray *, struct ArrowSchema *) = {
      sash_window_agg, sash_rolling, sash_parse};
  sash_status (*streams[])(struct ArrowArrayStream *, const char *, struct ArrowArrayStream *) = {
      sash_window_agg_stream, sash_rolling_stream, sash_parse_stream};
  (void)a;
  (void)s;
  (void)st;
  (void)fns;
  (void)streams;
  (void)sash_parse_bytes;
  (void)sash_parse_read;
  (void)sash_version;
  (void)sash_status_name;
  (void)sash_last_error_message;
  return SASH_STATUS_OK;
}
