/* The C step of the cross-language snapshot chain (tests/cross/snapshot_chain.py):
 *   snapshot_step IN.snap OUT.snap OUT.txt
 * restores a window stream from IN.snap, pushes rows [200, 300) 25 at a time,
 * writes each emitted window as a line of OUT.txt and the stream's snapshot
 * to OUT.snap. Exit status 0 on success, 1 with a message on stderr. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrow_build.h"
#include "sash.h"

static int fail(const char *what) {
  fprintf(stderr, "snapshot_step: %s: %s\n", what, sash_last_error_message());
  return 1;
}

static const struct ArrowArray *column(const struct ArrowArray *a, const struct ArrowSchema *s, const char *name) {
  int64_t i;
  for (i = 0; i < s->n_children; i++)
    if (strcmp(s->children[i]->name, name) == 0) return a->children[i];
  fprintf(stderr, "snapshot_step: no column %s\n", name);
  exit(1);
}

static int64_t i64(const struct ArrowArray *a, const struct ArrowSchema *s, const char *name, int64_t row) {
  const struct ArrowArray *c = column(a, s, name);
  return ((const int64_t *)c->buffers[1])[c->offset + row];
}

static int32_t i32(const struct ArrowArray *a, const struct ArrowSchema *s, const char *name, int64_t row) {
  const struct ArrowArray *c = column(a, s, name);
  return ((const int32_t *)c->buffers[1])[c->offset + row];
}

static double f64(const struct ArrowArray *a, const struct ArrowSchema *s, const char *name, int64_t row) {
  const struct ArrowArray *c = column(a, s, name);
  return ((const double *)c->buffers[1])[c->offset + row];
}

static struct ArrowSchema chain_schema(void) {
  struct ArrowSchema cols[3];
  cols[0] = make_schema("l", "ts", 0, NULL);
  cols[1] = make_schema("i", "key", 0, NULL);
  cols[2] = make_schema("l", "v", 0, NULL);
  return make_schema("+s", "", 3, cols);
}

/* Rows [start, end): ts = 2i - i % 3, key = i % 4, v = 7i % 11. */
static struct ArrowArray chain_rows(int64_t start, int64_t end) {
  int64_t n = end - start, i, ts[64], v[64];
  int32_t key[64];
  struct ArrowArray cols[3];
  for (i = 0; i < n; i++) {
    int64_t row = start + i;
    ts[i] = 2 * row - row % 3;
    key[i] = (int32_t)(row % 4);
    v[i] = 7 * row % 11;
  }
  cols[0] = make_int64(ts, n);
  cols[1] = make_int32(key, n);
  cols[2] = make_int64(v, n);
  return make_batch(n, 3, cols);
}

static void write_lines(FILE *out, const struct ArrowArray *a, const struct ArrowSchema *s) {
  int64_t r;
  for (r = 0; r < a->length; r++) {
    fprintf(out, "%" PRId64 ",%" PRId64 ",%" PRId32 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%.1f,%" PRId64
                 ",%" PRId64 "\n",
            i64(a, s, "window_start", r), i64(a, s, "window_end", r), i32(a, s, "key", r), i64(a, s, "n", r),
            i64(a, s, "s", r), i64(a, s, "lo", r), i64(a, s, "hi", r), i64(a, s, "cd", r), f64(a, s, "med", r),
            i64(a, s, "f", r), i64(a, s, "l", r));
  }
}

static unsigned char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  unsigned char *bytes;
  long size;
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  size = ftell(f);
  fseek(f, 0, SEEK_SET);
  bytes = (unsigned char *)malloc((size_t)size + 1);
  *len = fread(bytes, 1, (size_t)size, f);
  fclose(f);
  return bytes;
}

int main(int argc, char **argv) {
  sash_window_stream *stream = NULL;
  unsigned char *in;
  uint8_t *snapshot = NULL;
  size_t in_len = 0, snapshot_len = 0;
  int64_t start;
  FILE *out, *snap_out;
  if (argc != 4) {
    fprintf(stderr, "usage: snapshot_step IN.snap OUT.snap OUT.txt\n");
    return 2;
  }
  in = read_file(argv[1], &in_len);
  if (!in) {
    perror(argv[1]);
    return 1;
  }
  if (sash_window_stream_restore(in, in_len, &stream) != SASH_STATUS_OK) return fail("restore");
  free(in);
  out = fopen(argv[3], "w");
  if (!out) {
    perror(argv[3]);
    return 1;
  }
  for (start = 200; start < 300; start += 25) {
    struct ArrowArray batch = chain_rows(start, start + 25), result;
    struct ArrowSchema schema = chain_schema(), result_schema;
    if (sash_window_stream_push(stream, &batch, &schema, &result, &result_schema) != SASH_STATUS_OK) return fail("push");
    write_lines(out, &result, &result_schema);
    result.release(&result);
    result_schema.release(&result_schema);
  }
  fclose(out);
  if (sash_window_stream_snapshot(stream, &snapshot, &snapshot_len) != SASH_STATUS_OK) return fail("snapshot");
  snap_out = fopen(argv[2], "wb");
  if (!snap_out || fwrite(snapshot, 1, snapshot_len, snap_out) != snapshot_len) {
    perror(argv[2]);
    return 1;
  }
  fclose(snap_out);
  sash_bytes_free(snapshot, snapshot_len);
  sash_window_stream_free(stream);
  if (g_live_arrays || g_live_schemas) {
    fprintf(stderr, "snapshot_step: %d arrays and %d schemas not released\n", g_live_arrays, g_live_schemas);
    return 1;
  }
  return 0;
}
