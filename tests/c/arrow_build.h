/* Hand-built Arrow C Data Interface arrays and schemas for the C tests.
 *
 * Every struct built here owns malloc'd memory freed by its release callback,
 * and counts itself in g_live_* so a test can check that sash released
 * exactly what it took (live counts back to 0) and never twice (valgrind and
 * ASan see a double free). */
#ifndef SASH_TEST_ARROW_BUILD_H
#define SASH_TEST_ARROW_BUILD_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sash.h"

static int g_live_arrays = 0;
static int g_live_schemas = 0;
static int g_live_streams = 0;

/* ---------- arrays ---------- */

typedef struct {
  void **buffers;
  int64_t n_buffers;
  struct ArrowArray **children;
  int64_t n_children;
} ArrayPrivate;

static void release_array(struct ArrowArray *a) {
  ArrayPrivate *p = (ArrayPrivate *)a->private_data;
  int64_t i;
  for (i = 0; i < p->n_children; i++) {
    if (p->children[i]->release != NULL) p->children[i]->release(p->children[i]);
    free(p->children[i]);
  }
  for (i = 0; i < p->n_buffers; i++) free(p->buffers[i]);
  free(p->buffers);
  free(p->children);
  free(p);
  a->release = NULL;
  g_live_arrays--;
}

static void *copy_bytes(const void *src, size_t n) {
  void *dst;
  if (src == NULL) return NULL;
  dst = malloc(n == 0 ? 1 : n);
  if (n > 0) memcpy(dst, src, n);
  return dst;
}

/* An array of `length` rows whose buffers are copies of `buffers[i]` (of
 * `sizes[i]` bytes; a NULL buffer stays NULL) and whose children are moved in. */
static struct ArrowArray make_array(int64_t length, int64_t null_count, int64_t n_buffers, const void **buffers,
                                    const size_t *sizes, int64_t n_children, struct ArrowArray *children) {
  struct ArrowArray a;
  ArrayPrivate *p = (ArrayPrivate *)calloc(1, sizeof(ArrayPrivate));
  int64_t i;
  p->n_buffers = n_buffers;
  p->buffers = (void **)calloc((size_t)(n_buffers > 0 ? n_buffers : 1), sizeof(void *));
  for (i = 0; i < n_buffers; i++) p->buffers[i] = copy_bytes(buffers[i], sizes[i]);
  p->n_children = n_children;
  p->children = (struct ArrowArray **)calloc((size_t)(n_children > 0 ? n_children : 1), sizeof(void *));
  for (i = 0; i < n_children; i++) {
    p->children[i] = (struct ArrowArray *)malloc(sizeof(struct ArrowArray));
    *p->children[i] = children[i];
    children[i].release = NULL; /* moved */
  }
  a.length = length;
  a.null_count = null_count;
  a.offset = 0;
  a.n_buffers = n_buffers;
  a.n_children = n_children;
  a.buffers = (const void **)p->buffers;
  a.children = p->children;
  a.dictionary = NULL;
  a.release = release_array;
  a.private_data = p;
  g_live_arrays++;
  return a;
}

static struct ArrowArray make_primitive(const void *values, size_t width, int64_t n) {
  const void *bufs[2];
  size_t sizes[2];
  bufs[0] = NULL;
  bufs[1] = values;
  sizes[0] = 0;
  sizes[1] = width * (size_t)n;
  return make_array(n, 0, 2, bufs, sizes, 0, NULL);
}

static struct ArrowArray make_int64(const int64_t *v, int64_t n) { return make_primitive(v, 8, n); }
static struct ArrowArray make_int32(const int32_t *v, int64_t n) { return make_primitive(v, 4, n); }
static struct ArrowArray make_float64(const double *v, int64_t n) { return make_primitive(v, 8, n); }

/* A Utf8 array; a NULL string is a null element. */
static struct ArrowArray make_utf8(const char *const *strings, int64_t n) {
  int32_t *offsets = (int32_t *)malloc(sizeof(int32_t) * (size_t)(n + 1));
  uint8_t *validity = (uint8_t *)calloc((size_t)(n / 8 + 1), 1);
  size_t total = 0;
  char *data;
  int64_t i, nulls = 0;
  const void *bufs[3];
  size_t sizes[3];
  struct ArrowArray a;
  for (i = 0; i < n; i++) total += strings[i] ? strlen(strings[i]) : 0;
  data = (char *)malloc(total + 1);
  offsets[0] = 0;
  for (i = 0; i < n; i++) {
    size_t len = strings[i] ? strlen(strings[i]) : 0;
    if (strings[i]) {
      memcpy(data + offsets[i], strings[i], len);
      validity[i / 8] |= (uint8_t)(1u << (i % 8));
    } else {
      nulls++;
    }
    offsets[i + 1] = offsets[i] + (int32_t)len;
  }
  bufs[0] = nulls ? validity : NULL;
  bufs[1] = offsets;
  bufs[2] = data;
  sizes[0] = (size_t)(n / 8 + 1);
  sizes[1] = sizeof(int32_t) * (size_t)(n + 1);
  sizes[2] = total;
  a = make_array(n, nulls, 3, bufs, sizes, 0, NULL);
  free(offsets);
  free(validity);
  free(data);
  return a;
}

/* A record batch: a struct array (no validity) of columns moved in. */
static struct ArrowArray make_batch(int64_t length, int64_t n_columns, struct ArrowArray *columns) {
  const void *bufs[1] = {NULL};
  size_t sizes[1] = {0};
  return make_array(length, 0, 1, bufs, sizes, n_columns, columns);
}

/* ---------- schemas ---------- */

typedef struct {
  char *format;
  char *name;
  struct ArrowSchema **children;
  int64_t n_children;
} SchemaPrivate;

static void release_schema(struct ArrowSchema *s) {
  SchemaPrivate *p = (SchemaPrivate *)s->private_data;
  int64_t i;
  for (i = 0; i < p->n_children; i++) {
    if (p->children[i]->release != NULL) p->children[i]->release(p->children[i]);
    free(p->children[i]);
  }
  free(p->children);
  free(p->format);
  free(p->name);
  free(p);
  s->release = NULL;
  g_live_schemas--;
}

static char *dup_str(const char *s) { return (char *)copy_bytes(s, strlen(s) + 1); }

static struct ArrowSchema make_schema(const char *format, const char *name, int64_t n_children,
                                      struct ArrowSchema *children) {
  struct ArrowSchema s;
  SchemaPrivate *p = (SchemaPrivate *)calloc(1, sizeof(SchemaPrivate));
  int64_t i;
  p->format = dup_str(format);
  p->name = dup_str(name);
  p->n_children = n_children;
  p->children = (struct ArrowSchema **)calloc((size_t)(n_children > 0 ? n_children : 1), sizeof(void *));
  for (i = 0; i < n_children; i++) {
    p->children[i] = (struct ArrowSchema *)malloc(sizeof(struct ArrowSchema));
    *p->children[i] = children[i];
    children[i].release = NULL;
  }
  s.format = p->format;
  s.name = p->name;
  s.metadata = NULL;
  s.flags = ARROW_FLAG_NULLABLE;
  s.n_children = n_children;
  s.children = p->children;
  s.dictionary = NULL;
  s.release = release_schema;
  s.private_data = p;
  g_live_schemas++;
  return s;
}

/* ---------- the test data: ts (timestamp[ms]), key (int32), val (float64) ---------- */

static const int64_t TS[] = {0, 30000, 61000, 90000};
static const int32_t KEY[] = {1, 1, 2, 2};
static const double VAL[] = {1.0, 3.0, 5.0, 7.0};

static struct ArrowSchema events_schema(void) {
  struct ArrowSchema cols[3];
  cols[0] = make_schema("tsm:", "ts", 0, NULL);
  cols[1] = make_schema("i", "key", 0, NULL);
  cols[2] = make_schema("g", "val", 0, NULL);
  return make_schema("+s", "", 3, cols);
}

/* Rows [from, from + n) of the test data as one record batch. */
static struct ArrowArray events_batch(int64_t from, int64_t n) {
  struct ArrowArray cols[3];
  cols[0] = make_int64(TS + from, n);
  cols[1] = make_int32(KEY + from, n);
  cols[2] = make_float64(VAL + from, n);
  return make_batch(n, 3, cols);
}

/* ---------- a stream over prepared batches ---------- */

typedef struct {
  struct ArrowSchema (*schema)(void);
  struct ArrowArray *batches;
  int n, next;
  int fail_at; /* get_next fails when next == fail_at (-1: never) */
} StreamPrivate;

static int stream_get_schema(struct ArrowArrayStream *s, struct ArrowSchema *out) {
  StreamPrivate *p = (StreamPrivate *)s->private_data;
  *out = p->schema();
  return 0;
}

static int stream_get_next(struct ArrowArrayStream *s, struct ArrowArray *out) {
  StreamPrivate *p = (StreamPrivate *)s->private_data;
  if (p->next == p->fail_at) return 5; /* EIO */
  if (p->next >= p->n) {
    memset(out, 0, sizeof(*out));
    out->release = NULL;
    return 0;
  }
  *out = p->batches[p->next];
  p->batches[p->next].release = NULL;
  p->next++;
  return 0;
}

static const char *stream_get_last_error(struct ArrowArrayStream *s) {
  (void)s;
  return "the test stream failed on purpose";
}

static void stream_release(struct ArrowArrayStream *s) {
  StreamPrivate *p = (StreamPrivate *)s->private_data;
  int i;
  for (i = 0; i < p->n; i++)
    if (p->batches[i].release != NULL) p->batches[i].release(&p->batches[i]);
  free(p->batches);
  free(p);
  s->release = NULL;
  g_live_streams--;
}

/* A stream of `n` batches (moved in), with schemas made by `schema`. */
static struct ArrowArrayStream make_stream(struct ArrowSchema (*schema)(void), struct ArrowArray *batches, int n, int fail_at) {
  struct ArrowArrayStream s;
  StreamPrivate *p = (StreamPrivate *)calloc(1, sizeof(StreamPrivate));
  int i;
  p->schema = schema;
  p->batches = (struct ArrowArray *)calloc((size_t)(n > 0 ? n : 1), sizeof(struct ArrowArray));
  for (i = 0; i < n; i++) {
    p->batches[i] = batches[i];
    batches[i].release = NULL;
  }
  p->n = n;
  p->next = 0;
  p->fail_at = fail_at;
  s.get_schema = stream_get_schema;
  s.get_next = stream_get_next;
  s.get_last_error = stream_get_last_error;
  s.release = stream_release;
  s.private_data = p;
  g_live_streams++;
  return s;
}

#endif /* SASH_TEST_ARROW_BUILD_H */
