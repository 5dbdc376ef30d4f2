// Compile-only: sash.h from C++ (g++ -Wall -Werror), after another
// definition of the Arrow C structs (as nanoarrow or Arrow C++ would bring):
// the guards must make the two coexist.
#include <cstdint>

#define ARROW_C_DATA_INTERFACE
#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4
struct ArrowSchema {
  const char* format;
  const char* name;
  const char* metadata;
  int64_t flags;
  int64_t n_children;
  struct ArrowSchema** children;
  struct ArrowSchema* dictionary;
  void (*release)(struct ArrowSchema*);
  void* private_data;
};
struct ArrowArray {
  int64_t length;
  int64_t null_count;
  int64_t offset;
  int64_t n_buffers;
  int64_t n_children;
  const void** buffers;
  struct ArrowArray** children;
  struct ArrowArray* dictionary;
  void (*release)(struct ArrowArray*);
  void* private_data;
};

#include "sash.h"
#include "sash.h"  // twice: the include guard

int sash_header_cpp_check() {
  ArrowArray a{};
  ArrowSchema s{};
  ArrowArrayStream out{};
  (void)out;
  sash_status st = SASH_STATUS_OK;
  auto f = &sash_window_agg;
  (void)f;
  (void)a;
  (void)s;
  return static_cast<int>(st);
}
