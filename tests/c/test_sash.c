/* The C tests of libsash: every function, its results, and every error path,
 * with the ownership rule checked after each call (run under valgrind and
 * AddressSanitizer by `make test-c`). */
#include <math.h>

#include "arrow_build.h"

static int g_failures = 0;
static int g_checks = 0;

#define CHECK(cond)                                                              \
  do {                                                                           \
    g_checks++;                                                                  \
    if (!(cond)) {                                                               \
      g_failures++;                                                              \
      fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, __LINE__, #cond, \
              sash_last_error_message());                                        \
    }                                                                            \
  } while (0)

#define CHECK_STATUS(call, want)                                                        \
  do {                                                                                  \
    sash_status got_ = (call);                                                          \
    g_checks++;                                                                         \
    if (got_ != (want)) {                                                               \
      g_failures++;                                                                     \
      fprintf(stderr, "%s:%d: %s returned %s, want %s (message: %s)\n", __FILE__, __LINE__, #call, \
              sash_status_name(got_), sash_status_name(want), sash_last_error_message()); \
    }                                                                                   \
  } while (0)

/* Everything built by a test was released, exactly once. */
#define CHECK_NOTHING_LIVE()                                                            \
  do {                                                                                  \
    g_checks++;                                                                         \
    if (g_live_arrays != 0 || g_live_schemas != 0 || g_live_streams != 0) {             \
      g_failures++;                                                                     \
      fprintf(stderr, "%s:%d: live after the test: %d arrays, %d schemas, %d streams\n", __FILE__, __LINE__, \
              g_live_arrays, g_live_schemas, g_live_streams);                           \
    }                                                                                   \
  } while (0)

static const char *WINDOW_SPEC =
    "{\"time\": \"ts\", \"every\": \"1m\", \"by\": \"key\", \"aggs\": [\"count() as n\", \"mean(val) as m\"]}";
static const char *ROLLING_SPEC = "{\"time\": \"ts\", \"period\": \"1m\", \"by\": \"key\", \"aggs\": [\"sum(val) as s\"]}";
static const char *PARSE_SPEC = "{\"format\": \"common\"}";

static const char *LOG_LINES[] = {
    "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326",
    "::1 - - [10/Oct/2000:13:55:36 +0000] \"-\" 408 -",
    "this is not a log line",
};
static const char LOG_TEXT[] =
    "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326\n"
    "::1 - - [10/Oct/2000:13:55:36 +0000] \"-\" 408 -\r\n"
    "this is not a log line\n";

/* ---------- reading results ---------- */

static int64_t child_index(const struct ArrowSchema *s, const char *name) {
  int64_t i;
  for (i = 0; i < s->n_children; i++)
    if (strcmp(s->children[i]->name, name) == 0) return i;
  return -1;
}

static const struct ArrowArray *column(const struct ArrowArray *a, const struct ArrowSchema *s, const char *name) {
  int64_t i = child_index(s, name);
  if (i < 0) {
    fprintf(stderr, "no column %s\n", name);
    return NULL;
  }
  return a->children[i];
}

static int is_valid(const struct ArrowArray *c, int64_t row) {
  const uint8_t *bits = (const uint8_t *)c->buffers[0];
  int64_t i = c->offset + row;
  return bits == NULL || (bits[i / 8] >> (i % 8)) & 1;
}

static int64_t i64_at(const struct ArrowArray *c, int64_t row) { return ((const int64_t *)c->buffers[1])[c->offset + row]; }
static int32_t i32_at(const struct ArrowArray *c, int64_t row) { return ((const int32_t *)c->buffers[1])[c->offset + row]; }
static uint16_t u16_at(const struct ArrowArray *c, int64_t row) { return ((const uint16_t *)c->buffers[1])[c->offset + row]; }
static double f64_at(const struct ArrowArray *c, int64_t row) { return ((const double *)c->buffers[1])[c->offset + row]; }

static void release_out(struct ArrowArray *a, struct ArrowSchema *s) {
  if (a->release) a->release(a);
  if (s->release) s->release(s);
}

static void check_window_result(const struct ArrowArray *a, const struct ArrowSchema *s) {
  const struct ArrowArray *start = column(a, s, "window_start"), *key = column(a, s, "key"), *n = column(a, s, "n"),
                          *m = column(a, s, "m");
  CHECK(strcmp(s->format, "+s") == 0);
  CHECK(a->length == 2);
  if (!start || !key || !n || !m || a->length != 2) return;
  CHECK(strcmp(s->children[child_index(s, "window_start")]->format, "tsm:") == 0);
  CHECK(i64_at(start, 0) == 0 && i64_at(start, 1) == 60000);
  CHECK(i32_at(key, 0) == 1 && i32_at(key, 1) == 2);
  CHECK(i64_at(n, 0) == 2 && i64_at(n, 1) == 2);
  CHECK(fabs(f64_at(m, 0) - 2.0) < 1e-12 && fabs(f64_at(m, 1) - 6.0) < 1e-12);
}

static void check_parse_result(const struct ArrowArray *a, const struct ArrowSchema *s) {
  const struct ArrowArray *status = column(a, s, "status"), *err = column(a, s, "_error");
  CHECK(a->length == 3);
  CHECK(child_index(s, "_error") == s->n_children - 1);
  if (!status || !err || a->length != 3) return;
  CHECK(strcmp(s->children[child_index(s, "status")]->format, "S") == 0);
  CHECK(u16_at(status, 0) == 200 && u16_at(status, 1) == 408);
  CHECK(!is_valid(err, 0) && !is_valid(err, 1) && is_valid(err, 2));
  CHECK(!is_valid(status, 2));
}

/* ---------- the functions, on good input ---------- */

static void test_version(void) {
  const char *v = sash_version();
  char want[32];
  snprintf(want, sizeof want, "%d.%d.%d", SASH_VERSION_MAJOR, SASH_VERSION_MINOR, SASH_VERSION_PATCH);
  CHECK(v != NULL && strcmp(v, want) == 0);
  CHECK(strcmp(v, SASH_VERSION) == 0);
  CHECK(strcmp(sash_status_name(SASH_STATUS_OK), "ok") == 0);
  CHECK(strcmp(sash_status_name(SASH_STATUS_UNKNOWN_COLUMN), "unknown_column") == 0);
}

static void test_window_agg(void) {
  struct ArrowArray in = events_batch(0, 4), out;
  struct ArrowSchema in_schema = events_schema(), out_schema;
  CHECK_STATUS(sash_window_agg(&in, &in_schema, WINDOW_SPEC, &out, &out_schema), SASH_STATUS_OK);
  CHECK(in.release == NULL && in_schema.release == NULL); /* taken */
  CHECK(strcmp(sash_last_error_message(), "") == 0);
  check_window_result(&out, &out_schema);
  release_out(&out, &out_schema);
  CHECK_NOTHING_LIVE();
}

/* A window stream: a window is written once the watermark passes it; a
 * snapshot restores to a stream that goes on as the original does. */
static void test_window_stream(void) {
  const char *spec =
      "{\"time\": \"ts\", \"every\": \"1m\", \"by\": \"key\", \"aggs\": [\"count() as n\", \"mean(val) as m\"], \"lateness\": \"1s\"}";
  sash_window_stream *stream = NULL, *restored = NULL;
  struct ArrowArray in, out;
  struct ArrowSchema in_schema, out_schema;
  uint8_t *bytes = NULL;
  size_t len = 0;
  int64_t watermark = 0;
  bool has_watermark = true;
  sash_stream_stats stats;
  CHECK_STATUS(sash_window_stream_new(spec, &stream), SASH_STATUS_OK);
  CHECK_STATUS(sash_window_stream_watermark(stream, &watermark, &has_watermark), SASH_STATUS_OK);
  CHECK(!has_watermark && watermark == INT64_MIN); /* below every time */
  in = events_batch(0, 2);
  in_schema = events_schema();
  CHECK_STATUS(sash_window_stream_push(stream, &in, &in_schema, &out, &out_schema), SASH_STATUS_OK);
  CHECK(in.release == NULL && in_schema.release == NULL); /* taken */
  CHECK(out.length == 0);                                  /* the watermark is at 29 s */
  release_out(&out, &out_schema);
  CHECK_STATUS(sash_window_stream_watermark(stream, &watermark, &has_watermark), SASH_STATUS_OK);
  CHECK(has_watermark && watermark == 29000); /* ticks: milliseconds */
  CHECK_STATUS(sash_window_stream_stats(stream, &stats), SASH_STATUS_OK);
  CHECK(stats.rows_in == 2 && stats.rows_late == 0 && stats.null_times_dropped == 0);
  CHECK(stats.open_windows == 1 && stats.state_bytes > 0); /* [0, 1m) of key 1 */
  CHECK_STATUS(sash_window_stream_stats(stream, NULL), SASH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sash_window_stream_watermark(NULL, &watermark, &has_watermark), SASH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sash_window_stream_snapshot(stream, &bytes, &len), SASH_STATUS_OK);
  CHECK(bytes != NULL && len > 8 && memcmp(bytes, "SASHSNAP", 8) == 0);
  CHECK_STATUS(sash_window_stream_restore(bytes, len, &restored), SASH_STATUS_OK);
  CHECK_STATUS(sash_window_stream_restore(bytes, len / 2, &stream), SASH_STATUS_INVALID_INPUT); /* cut short */
  sash_bytes_free(bytes, len);
  sash_window_stream_free(stream);
  stream = restored;
  in = events_batch(2, 2);
  in_schema = events_schema();
  CHECK_STATUS(sash_window_stream_push(stream, &in, &in_schema, &out, &out_schema), SASH_STATUS_OK);
  CHECK(out.length == 1); /* [0, 1m) of key 1 closed at 89 s */
  CHECK(i64_at(out.children[child_index(&out_schema, "n")], 0) == 2);
  release_out(&out, &out_schema);
  CHECK_STATUS(sash_window_stream_advance(stream, 0, &out, &out_schema), SASH_STATUS_OK); /* never back */
  CHECK(out.length == 0);
  release_out(&out, &out_schema);
  CHECK_STATUS(sash_window_stream_finish(stream, &out, &out_schema), SASH_STATUS_OK);
  CHECK(out.length == 1 && i64_at(out.children[child_index(&out_schema, "n")], 0) == 2);
  release_out(&out, &out_schema);
  CHECK_STATUS(sash_window_stream_take_late(stream, &out, &out_schema), SASH_STATUS_OK);
  CHECK(out.length == 0);
  release_out(&out, &out_schema);
  in = events_batch(0, 1);
  in_schema = events_schema();
  CHECK_STATUS(sash_window_stream_push(stream, &in, &in_schema, &out, &out_schema), SASH_STATUS_INVALID_INPUT); /* finished */
  CHECK(in.release == NULL);
  sash_window_stream_free(stream);
  sash_window_stream_free(NULL);
  CHECK_STATUS(sash_window_stream_new("{\"time\": \"ts\", \"every\": 5, \"aggs\": [\"count()\"], \"lateness\": -1}", &stream),
               SASH_STATUS_INVALID_SPEC);
  CHECK_STATUS(sash_window_stream_new(spec, NULL), SASH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sash_window_stream_advance(NULL, 0, &out, &out_schema), SASH_STATUS_NULL_ARGUMENT);
  CHECK_NOTHING_LIVE();
}

/* A rolling stream: a row's result is written once the watermark passes its
 * time; a snapshot restores to a stream that goes on as the original does. */
static void test_rolling_stream_handle(void) {
  const char *spec = "{\"time\": \"ts\", \"period\": \"1m\", \"by\": \"key\", \"aggs\": [\"count() as n\"], \"lateness\": \"1s\"}";
  sash_rolling_stream_handle *stream = NULL, *restored = NULL;
  struct ArrowArray in, out;
  struct ArrowSchema in_schema, out_schema;
  uint8_t *bytes = NULL;
  size_t len = 0;
  CHECK_STATUS(sash_rolling_stream_new(spec, &stream), SASH_STATUS_OK);
  in = events_batch(0, 2);
  in_schema = events_schema();
  CHECK_STATUS(sash_rolling_stream_push(stream, &in, &in_schema, &out, &out_schema), SASH_STATUS_OK);
  CHECK(in.release == NULL && in_schema.release == NULL); /* taken */
  CHECK(out.length == 1);                                  /* the watermark is at 29 s: the row at 0 s */
  CHECK(out_schema.n_children == 4 && i64_at(out.children[child_index(&out_schema, "n")], 0) == 1);
  release_out(&out, &out_schema);
  CHECK_STATUS(sash_rolling_stream_snapshot(stream, &bytes, &len), SASH_STATUS_OK);
  CHECK_STATUS(sash_rolling_stream_restore(bytes, len, &restored), SASH_STATUS_OK);
  CHECK_STATUS(sash_rolling_stream_restore(bytes, len / 2, &stream), SASH_STATUS_INVALID_INPUT); /* cut short */
  sash_bytes_free(bytes, len);
  sash_rolling_stream_free(stream);
  stream = restored;
  in = events_batch(2, 2);
  in_schema = events_schema();
  CHECK_STATUS(sash_rolling_stream_push(stream, &in, &in_schema, &out, &out_schema), SASH_STATUS_OK);
  CHECK(out.length == 2); /* 30 s (key 1: 2 rows) and 61 s (key 2: 1 row), by time */
  CHECK(i64_at(out.children[child_index(&out_schema, "n")], 0) == 2 && i64_at(out.children[child_index(&out_schema, "n")], 1) == 1);
  release_out(&out, &out_schema);
  CHECK_STATUS(sash_rolling_stream_advance(stream, 0, &out, &out_schema), SASH_STATUS_OK); /* never back */
  CHECK(out.length == 0);
  release_out(&out, &out_schema);
  CHECK_STATUS(sash_rolling_stream_take_late(stream, &out, &out_schema), SASH_STATUS_OK);
  CHECK(out.length == 0);
  release_out(&out, &out_schema);
  CHECK_STATUS(sash_rolling_stream_finish(stream, &out, &out_schema), SASH_STATUS_OK);
  CHECK(out.length == 1 && i64_at(out.children[child_index(&out_schema, "n")], 0) == 2); /* 90 s: 61 s and 90 s */
  release_out(&out, &out_schema);
  sash_rolling_stream_free(stream);
  sash_rolling_stream_free(NULL);
  CHECK_STATUS(sash_rolling_stream_new("{\"time\": \"ts\", \"aggs\": [\"count()\"]}", &stream), SASH_STATUS_INVALID_SPEC);
  CHECK_STATUS(sash_rolling_stream_new(spec, NULL), SASH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sash_rolling_stream_finish(NULL, &out, &out_schema), SASH_STATUS_NULL_ARGUMENT);
  CHECK_NOTHING_LIVE();
}

/* Reads a golden snapshot Python wrote (tests/data/streams) into `data`. */
static size_t read_golden(const char *path, uint8_t *data, size_t capacity) {
  FILE *f = fopen(path, "rb");
  size_t len = 0;
  CHECK(f != NULL);
  if (f == NULL) return 0;
  len = fread(data, 1, capacity, f);
  fclose(f);
  return len;
}

/* The golden snapshots of every format version restore here; each restored
 * stream's snapshot is the latest format's golden one, byte for byte. */
static void test_window_stream_golden(void) {
  static const char *const paths[] = {"tests/data/streams/window_stream_v1.snap", "tests/data/streams/window_stream_v2.snap"};
  uint8_t latest[8192], data[8192];
  size_t latest_len = read_golden(paths[1], latest, sizeof latest);
  size_t i;
  for (i = 0; i < 2; i++) {
    size_t len = read_golden(paths[i], data, sizeof data);
    sash_window_stream *stream = NULL;
    uint8_t *again = NULL;
    size_t again_len = 0;
    struct ArrowArray out;
    struct ArrowSchema out_schema;
    CHECK_STATUS(sash_window_stream_restore(data, len, &stream), SASH_STATUS_OK);
    CHECK_STATUS(sash_window_stream_snapshot(stream, &again, &again_len), SASH_STATUS_OK);
    CHECK(again_len == latest_len && memcmp(again, latest, latest_len) == 0);
    sash_bytes_free(again, again_len);
    CHECK_STATUS(sash_window_stream_finish(stream, &out, &out_schema), SASH_STATUS_OK);
    CHECK(out.length == 3);
    if (out.length == 3) {
      const struct ArrowArray *n = out.children[child_index(&out_schema, "n")];
      CHECK(i64_at(n, 0) == 2 && i64_at(n, 1) == 1 && i64_at(n, 2) == 1);
    }
    release_out(&out, &out_schema);
    sash_window_stream_free(stream);
  }
  CHECK_NOTHING_LIVE();
}

static void test_rolling(void) {
  struct ArrowArray in = events_batch(0, 4), out;
  struct ArrowSchema in_schema = events_schema(), out_schema;
  const struct ArrowArray *s;
  CHECK_STATUS(sash_rolling(&in, &in_schema, ROLLING_SPEC, &out, &out_schema), SASH_STATUS_OK);
  CHECK(out.length == 4);
  s = column(&out, &out_schema, "s");
  if (s && out.length == 4) {
    CHECK(f64_at(s, 0) == 1.0 && f64_at(s, 1) == 4.0 && f64_at(s, 2) == 5.0 && f64_at(s, 3) == 12.0);
  }
  CHECK(child_index(&out_schema, "val") == 2);
  release_out(&out, &out_schema);
  CHECK_NOTHING_LIVE();
}

/* The events in two batches, as a stream; `fail_at` >= 0 makes get_next fail there. */
static struct ArrowArrayStream events_stream(int fail_at) {
  struct ArrowArray batches[2];
  batches[0] = events_batch(0, 3);
  batches[1] = events_batch(3, 1);
  return make_stream(events_schema, batches, 2, fail_at);
}

/* Drains a stream into at most `max` batches; returns how many, or -1 on a stream error. */
static int drain(struct ArrowArrayStream *s, struct ArrowSchema *schema, struct ArrowArray *batches, int max) {
  int n = 0;
  if (s->get_schema(s, schema) != 0) return -1;
  for (;;) {
    struct ArrowArray a;
    if (s->get_next(s, &a) != 0) return -1;
    if (a.release == NULL) return n;
    if (n < max) batches[n++] = a;
    else a.release(&a);
  }
}

static void test_window_agg_stream(void) {
  struct ArrowArrayStream in = events_stream(-1), out;
  struct ArrowSchema schema;
  struct ArrowArray batches[4];
  int n, i;
  CHECK_STATUS(sash_window_agg_stream(&in, WINDOW_SPEC, &out), SASH_STATUS_OK);
  CHECK(in.release == NULL);
  n = drain(&out, &schema, batches, 4);
  CHECK(n == 1);
  if (n == 1) check_window_result(&batches[0], &schema);
  for (i = 0; i < n; i++) batches[i].release(&batches[i]);
  if (n >= 0) schema.release(&schema);
  out.release(&out);
  CHECK_NOTHING_LIVE();
}

static void test_rolling_stream(void) {
  struct ArrowArrayStream in = events_stream(-1), out;
  struct ArrowSchema schema;
  struct ArrowArray batches[4];
  int n, i;
  int64_t rows = 0;
  CHECK_STATUS(sash_rolling_stream(&in, ROLLING_SPEC, &out), SASH_STATUS_OK);
  n = drain(&out, &schema, batches, 4);
  CHECK(n >= 1);
  for (i = 0; i < n; i++) rows += batches[i].length;
  CHECK(rows == 4);
  for (i = 0; i < n; i++) batches[i].release(&batches[i]);
  if (n >= 0) schema.release(&schema);
  out.release(&out);
  CHECK_NOTHING_LIVE();
}

static void test_parse(void) {
  struct ArrowArray in = make_utf8(LOG_LINES, 3), out;
  struct ArrowSchema in_schema = make_schema("u", "line", 0, NULL), out_schema;
  CHECK_STATUS(sash_parse(&in, &in_schema, PARSE_SPEC, &out, &out_schema), SASH_STATUS_OK);
  CHECK(in.release == NULL && in_schema.release == NULL);
  check_parse_result(&out, &out_schema);
  /* The input's buffers live as long as the output (string views point into them). */
  CHECK(g_live_arrays == 1);
  release_out(&out, &out_schema);
  CHECK_NOTHING_LIVE();
}

static void test_parse_bytes(void) {
  struct ArrowArray out;
  struct ArrowSchema out_schema;
  CHECK_STATUS(sash_parse_bytes((const uint8_t *)LOG_TEXT, strlen(LOG_TEXT), PARSE_SPEC, &out, &out_schema), SASH_STATUS_OK);
  check_parse_result(&out, &out_schema);
  release_out(&out, &out_schema);
  /* Empty input: zero rows, NULL data allowed. */
  CHECK_STATUS(sash_parse_bytes(NULL, 0, PARSE_SPEC, &out, &out_schema), SASH_STATUS_OK);
  CHECK(out.length == 0);
  release_out(&out, &out_schema);
  CHECK_NOTHING_LIVE();
}

static struct ArrowSchema lines_schema(void) {
  struct ArrowSchema col = make_schema("u", "line", 0, NULL);
  return make_schema("+s", "", 1, &col);
}

static struct ArrowArrayStream lines_stream(void) {
  struct ArrowArray batches[2], col;
  col = make_utf8(LOG_LINES, 2);
  batches[0] = make_batch(2, 1, &col);
  col = make_utf8(LOG_LINES + 2, 1);
  batches[1] = make_batch(1, 1, &col);
  return make_stream(lines_schema, batches, 2, -1);
}

static void test_parse_stream(void) {
  struct ArrowArrayStream in = lines_stream(), out;
  struct ArrowSchema schema;
  struct ArrowArray batches[4];
  int n, i;
  CHECK_STATUS(sash_parse_stream(&in, PARSE_SPEC, &out), SASH_STATUS_OK);
  n = drain(&out, &schema, batches, 4);
  CHECK(n == 2);
  if (n == 2) {
    const struct ArrowArray *err0 = column(&batches[0], &schema, "_error"), *err1 = column(&batches[1], &schema, "_error");
    CHECK(batches[0].length == 2 && batches[1].length == 1);
    CHECK(err0 && !is_valid(err0, 0) && !is_valid(err0, 1));
    CHECK(err1 && is_valid(err1, 0));
  }
  for (i = 0; i < n; i++) batches[i].release(&batches[i]);
  if (n >= 0) schema.release(&schema);
  out.release(&out);
  CHECK_NOTHING_LIVE();
}

/* ---------- error paths: a status, a message, and the inputs released once ---------- */

static void expect_error_message(const char *needle) {
  const char *m = sash_last_error_message();
  g_checks++;
  if (m == NULL || strstr(m, needle) == NULL) {
    g_failures++;
    fprintf(stderr, "last error '%s' does not mention '%s'\n", m ? m : "(NULL)", needle);
  }
}

/* Calls sash_window_agg on (in, schema) and checks the status, that the
 * outputs were not written and that the inputs were taken and released. */
static void window_error(struct ArrowArray in, struct ArrowSchema schema, const char *spec, sash_status want, const char *needle,
                         int line) {
  struct ArrowArray out;
  struct ArrowSchema out_schema;
  memset(&out, 0xAB, sizeof out);
  memset(&out_schema, 0xAB, sizeof out_schema);
  {
    sash_status got = sash_window_agg(&in, &schema, spec, &out, &out_schema);
    g_checks++;
    if (got != want) {
      g_failures++;
      fprintf(stderr, "line %d: sash_window_agg returned %s, want %s (%s)\n", line, sash_status_name(got), sash_status_name(want),
              sash_last_error_message());
    }
  }
  CHECK(in.release == NULL && schema.release == NULL);
  CHECK(out.length == (int64_t)0xABABABABABABABABull); /* not written */
  if (needle) expect_error_message(needle);
  CHECK_NOTHING_LIVE();
}

static void test_errors_spec(void) {
  window_error(events_batch(0, 4), events_schema(), "{not json", SASH_STATUS_INVALID_SPEC, "JSON", __LINE__);
  window_error(events_batch(0, 4), events_schema(), "{\"time\": \"ts\", \"every\": \"1m\", \"aggs\": [], \"bogus\": 1}",
               SASH_STATUS_INVALID_SPEC, "bogus", __LINE__);
  window_error(events_batch(0, 4), events_schema(), "{\"time\": \"ts\", \"every\": \"-1m\", \"aggs\": [\"count()\"]}",
               SASH_STATUS_INVALID_SPEC, "positive", __LINE__);
  window_error(events_batch(0, 4), events_schema(), "{\"time\": \"nope\", \"every\": \"1m\", \"aggs\": [\"count()\"]}",
               SASH_STATUS_UNKNOWN_COLUMN, "nope", __LINE__);
  window_error(events_batch(0, 4), events_schema(), "{\"time\": \"ts\", \"every\": \"1m\", \"aggs\": [\"frobnicate(val)\"]}",
               SASH_STATUS_UNKNOWN_FUNCTION, "frobnicate", __LINE__);
  window_error(events_batch(0, 4), events_schema(), "{\"time\": \"key\", \"every\": \"1m\", \"aggs\": [\"count()\"]}",
               SASH_STATUS_INVALID_DURATION, NULL, __LINE__);
  window_error(events_batch(0, 4), events_schema(), "\xff\xfe", SASH_STATUS_INVALID_SPEC, "UTF-8", __LINE__);
  window_error(events_batch(0, 4), events_schema(), NULL, SASH_STATUS_NULL_ARGUMENT, "spec_json", __LINE__);
}

static void test_errors_null_and_released(void) {
  struct ArrowArray in = events_batch(0, 4), out;
  struct ArrowSchema schema = events_schema(), out_schema;
  struct ArrowArrayStream stream, sout;

  /* NULL input array: the schema is still taken. */
  CHECK_STATUS(sash_window_agg(NULL, &schema, WINDOW_SPEC, &out, &out_schema), SASH_STATUS_NULL_ARGUMENT);
  CHECK(schema.release == NULL);
  expect_error_message("array");
  /* NULL schema: the array is still taken. */
  CHECK_STATUS(sash_rolling(&in, NULL, ROLLING_SPEC, &out, &out_schema), SASH_STATUS_NULL_ARGUMENT);
  CHECK(in.release == NULL);
  CHECK_NOTHING_LIVE();
  /* NULL outputs: the inputs are taken. */
  in = events_batch(0, 4);
  schema = events_schema();
  CHECK_STATUS(sash_window_agg(&in, &schema, WINDOW_SPEC, NULL, &out_schema), SASH_STATUS_NULL_ARGUMENT);
  expect_error_message("out_array");
  CHECK_NOTHING_LIVE();
  in = make_utf8(LOG_LINES, 3);
  schema = make_schema("u", "line", 0, NULL);
  CHECK_STATUS(sash_parse(&in, &schema, PARSE_SPEC, &out, NULL), SASH_STATUS_NULL_ARGUMENT);
  CHECK_NOTHING_LIVE();
  CHECK_STATUS(sash_parse_bytes((const uint8_t *)LOG_TEXT, 3, PARSE_SPEC, NULL, &out_schema), SASH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sash_parse_bytes(NULL, 3, PARSE_SPEC, &out, &out_schema), SASH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sash_parse_bytes(NULL, 0, NULL, &out, &out_schema), SASH_STATUS_NULL_ARGUMENT);

  /* Already released structs (e.g. passed twice). */
  in = events_batch(0, 4);
  schema = events_schema();
  CHECK_STATUS(sash_window_agg(&in, &schema, WINDOW_SPEC, &out, &out_schema), SASH_STATUS_OK);
  release_out(&out, &out_schema);
  CHECK_STATUS(sash_window_agg(&in, &schema, WINDOW_SPEC, &out, &out_schema), SASH_STATUS_RELEASED);
  expect_error_message("released");
  schema = events_schema();
  CHECK_STATUS(sash_window_agg(&in, &schema, WINDOW_SPEC, &out, &out_schema), SASH_STATUS_RELEASED);
  CHECK(schema.release == NULL);
  in = events_batch(0, 4);
  CHECK_STATUS(sash_window_agg(&in, &schema, WINDOW_SPEC, &out, &out_schema), SASH_STATUS_RELEASED);
  expect_error_message("schema");
  CHECK(in.release == NULL);
  CHECK_NOTHING_LIVE();

  /* Streams: NULL, released, NULL output. */
  CHECK_STATUS(sash_window_agg_stream(NULL, WINDOW_SPEC, &sout), SASH_STATUS_NULL_ARGUMENT);
  stream = events_stream(-1);
  CHECK_STATUS(sash_rolling_stream(&stream, ROLLING_SPEC, NULL), SASH_STATUS_NULL_ARGUMENT);
  CHECK(stream.release == NULL);
  CHECK_NOTHING_LIVE();
  CHECK_STATUS(sash_rolling_stream(&stream, ROLLING_SPEC, &sout), SASH_STATUS_RELEASED);
  CHECK_STATUS(sash_parse_stream(&stream, PARSE_SPEC, &sout), SASH_STATUS_RELEASED);
  stream = lines_stream();
  CHECK_STATUS(sash_parse_stream(&stream, NULL, &sout), SASH_STATUS_NULL_ARGUMENT);
  CHECK(stream.release == NULL);
  CHECK_NOTHING_LIVE();
}

static void test_errors_malformed(void) {
  /* A column with one buffer where int32 has two. */
  {
    struct ArrowArray cols[3];
    const void *bufs[1] = {NULL};
    size_t sizes[1] = {0};
    cols[0] = make_int64(TS, 4);
    cols[1] = make_array(4, 0, 1, bufs, sizes, 0, NULL);
    cols[2] = make_float64(VAL, 4);
    window_error(make_batch(4, 3, cols), events_schema(), WINDOW_SPEC, SASH_STATUS_INVALID_ARRAY, "buffers", __LINE__);
  }
  /* A record batch whose struct has fewer children than its schema. */
  {
    struct ArrowArray cols[2];
    cols[0] = make_int64(TS, 4);
    cols[1] = make_int32(KEY, 4);
    window_error(make_batch(4, 2, cols), events_schema(), WINDOW_SPEC, SASH_STATUS_INVALID_ARRAY, "children", __LINE__);
  }
  /* A NULL values buffer. */
  {
    struct ArrowArray cols[3];
    const void *bufs[2] = {NULL, NULL};
    size_t sizes[2] = {0, 0};
    cols[0] = make_int64(TS, 4);
    cols[1] = make_int32(KEY, 4);
    cols[2] = make_array(4, 0, 2, bufs, sizes, 0, NULL);
    window_error(make_batch(4, 3, cols), events_schema(), WINDOW_SPEC, SASH_STATUS_INVALID_ARRAY, "NULL", __LINE__);
  }
  /* A batch longer than its columns (rows past the buffers). */
  {
    struct ArrowArray cols[3];
    cols[0] = make_int64(TS, 2);
    cols[1] = make_int32(KEY, 2);
    cols[2] = make_float64(VAL, 2);
    window_error(make_batch(4, 3, cols), events_schema(), WINDOW_SPEC, SASH_STATUS_INVALID_ARRAY, "malformed", __LINE__);
  }
  /* A column whose offset + length goes past the batch's other columns. */
  {
    struct ArrowArray cols[3];
    cols[0] = make_int64(TS, 4);
    cols[1] = make_int32(KEY, 4);
    cols[2] = make_float64(VAL, 4);
    cols[0].length = 3;
    window_error(make_batch(4, 3, cols), events_schema(), WINDOW_SPEC, SASH_STATUS_INVALID_ARRAY, NULL, __LINE__);
  }
  /* Not a record batch: a plain int32 array. */
  window_error(make_int32(KEY, 4), make_schema("i", "key", 0, NULL), WINDOW_SPEC, SASH_STATUS_INVALID_ARRAY, "struct", __LINE__);
  /* A negative length. */
  {
    struct ArrowArray a = events_batch(0, 4);
    a.length = -1;
    window_error(a, events_schema(), WINDOW_SPEC, SASH_STATUS_INVALID_ARRAY, "negative", __LINE__);
  }
  /* An unknown format string. */
  window_error(events_batch(0, 4), make_schema("?!", "x", 0, NULL), WINDOW_SPEC, SASH_STATUS_INVALID_ARRAY, NULL, __LINE__);
  /* Utf8 with offsets out of order, and offsets past the values. */
  {
    int32_t bad_offsets[4] = {0, 5, 3, 8};
    int32_t good_offsets[4] = {0, 2, 4, 6};
    const char data[] = "abcdefgh";
    const void *bufs[3];
    size_t sizes[3] = {0, sizeof bad_offsets, 8};
    struct ArrowArray in, out;
    struct ArrowSchema schema, out_schema;
    bufs[0] = NULL;
    bufs[1] = bad_offsets;
    bufs[2] = data;
    in = make_array(3, 0, 3, bufs, sizes, 0, NULL);
    schema = make_schema("u", "line", 0, NULL);
    CHECK_STATUS(sash_parse(&in, &schema, PARSE_SPEC, &out, &out_schema), SASH_STATUS_INVALID_ARRAY);
    expect_error_message("offset");
    CHECK_NOTHING_LIVE();
    /* The same values with offsets in order parse. */
    bufs[1] = good_offsets;
    in = make_array(3, 0, 3, bufs, sizes, 0, NULL);
    schema = make_schema("u", "line", 0, NULL);
    CHECK_STATUS(sash_parse(&in, &schema, PARSE_SPEC, &out, &out_schema), SASH_STATUS_OK);
    release_out(&out, &out_schema);
    /* Invalid UTF-8 in a Utf8 array. */
    {
      const char bad_utf8[] = "ab\xff\xfe";
      int32_t offsets[2] = {0, 4};
      size_t sizes2[3] = {0, sizeof offsets, 4};
      bufs[1] = offsets;
      bufs[2] = bad_utf8;
      in = make_array(1, 0, 3, bufs, sizes2, 0, NULL);
      schema = make_schema("u", "line", 0, NULL);
      CHECK_STATUS(sash_parse(&in, &schema, PARSE_SPEC, &out, &out_schema), SASH_STATUS_INVALID_ARRAY);
      expect_error_message("UTF");
    }
    CHECK_NOTHING_LIVE();
  }
  /* Empty strings with a NULL values buffer are valid (size-0 buffers may be NULL); NULL offsets are not. */
  {
    int32_t offsets[3] = {0, 0, 0};
    const void *bufs[3];
    size_t sizes[3] = {0, sizeof offsets, 0};
    struct ArrowArray in, out;
    struct ArrowSchema schema, out_schema;
    bufs[0] = NULL;
    bufs[1] = offsets;
    bufs[2] = NULL;
    in = make_array(2, 0, 3, bufs, sizes, 0, NULL);
    schema = make_schema("u", "line", 0, NULL);
    CHECK_STATUS(sash_parse(&in, &schema, PARSE_SPEC, &out, &out_schema), SASH_STATUS_OK);
    CHECK(out.length == 2);
    release_out(&out, &out_schema);
    bufs[1] = NULL;
    in = make_array(2, 0, 3, bufs, sizes, 0, NULL);
    schema = make_schema("u", "line", 0, NULL);
    CHECK_STATUS(sash_parse(&in, &schema, PARSE_SPEC, &out, &out_schema), SASH_STATUS_INVALID_ARRAY);
    expect_error_message("NULL");
    CHECK_NOTHING_LIVE();
  }
  /* Parse from something that is not a string array. */
  {
    struct ArrowArray in = make_int32(KEY, 4), out;
    struct ArrowSchema schema = make_schema("i", "key", 0, NULL), out_schema;
    sash_status st = sash_parse(&in, &schema, PARSE_SPEC, &out, &out_schema);
    CHECK(st != SASH_STATUS_OK && st != SASH_STATUS_INTERNAL);
    CHECK_NOTHING_LIVE();
  }
}

static void test_errors_stream(void) {
  struct ArrowArrayStream in, out;
  /* The input stream fails while sash reads it. */
  in = events_stream(1);
  CHECK_STATUS(sash_window_agg_stream(&in, WINDOW_SPEC, &out), SASH_STATUS_INVALID_ARRAY);
  CHECK(in.release == NULL);
  CHECK_NOTHING_LIVE();
  /* A malformed batch inside a stream is checked like a single batch. */
  {
    struct ArrowArray batches[2], cols[3];
    const void *bufs[1] = {NULL};
    size_t sizes[1] = {0};
    batches[0] = events_batch(0, 3);
    cols[0] = make_int64(TS, 1);
    cols[1] = make_array(1, 0, 1, bufs, sizes, 0, NULL);
    cols[2] = make_float64(VAL, 1);
    batches[1] = make_batch(1, 3, cols);
    in = make_stream(events_schema, batches, 2, -1);
    CHECK_STATUS(sash_window_agg_stream(&in, WINDOW_SPEC, &out), SASH_STATUS_INVALID_ARRAY);
    expect_error_message("buffers");
    CHECK_NOTHING_LIVE();
  }
  /* Unknown column, invalid spec through a stream. */
  in = events_stream(-1);
  CHECK_STATUS(sash_rolling_stream(&in, "{\"time\": \"t\", \"period\": \"1m\", \"aggs\": [\"count()\"]}", &out),
               SASH_STATUS_UNKNOWN_COLUMN);
  CHECK_NOTHING_LIVE();
  in = lines_stream();
  CHECK_STATUS(sash_parse_stream(&in, "{\"format\": \"klingon\"}", &out), SASH_STATUS_INVALID_SPEC);
  CHECK_NOTHING_LIVE();
  /* A stream of more than one column cannot be parsed. */
  in = events_stream(-1);
  CHECK_STATUS(sash_parse_stream(&in, PARSE_SPEC, &out), SASH_STATUS_INVALID_INPUT);
  CHECK_NOTHING_LIVE();
  /* on_error raise: the call succeeds, pulling the bad batch fails with a message. */
  in = lines_stream();
  CHECK_STATUS(sash_parse_stream(&in, "{\"format\": \"common\", \"on_error\": \"raise\"}", &out), SASH_STATUS_OK);
  {
    struct ArrowSchema schema;
    struct ArrowArray a;
    CHECK(out.get_schema(&out, &schema) == 0);
    schema.release(&schema);
    CHECK(out.get_next(&out, &a) == 0);
    if (a.release) a.release(&a);
    CHECK(out.get_next(&out, &a) != 0);
    CHECK(out.get_last_error(&out) != NULL && strstr(out.get_last_error(&out), "line 3") != NULL);
    out.release(&out);
  }
  CHECK_NOTHING_LIVE();
  /* Parse errors (on_error raise) on a single array. */
  {
    struct ArrowArray a = make_utf8(LOG_LINES, 3), o;
    struct ArrowSchema s = make_schema("u", "line", 0, NULL), os;
    CHECK_STATUS(sash_parse(&a, &s, "{\"format\": \"common\", \"on_error\": \"raise\"}", &o, &os), SASH_STATUS_PARSE);
    expect_error_message("line 3");
    CHECK_NOTHING_LIVE();
  }
}

/* ---------- sash_parse_read: bytes pulled through a callback ---------- */

typedef struct {
  const char *data;
  size_t len, pos;
  int fail; /* return -1 once pos reaches this many bytes (0: never) */
  int calls;
} Cursor;

static ptrdiff_t cursor_read(void *user_data, uint8_t *buf, size_t len) {
  Cursor *c = (Cursor *)user_data;
  size_t n = c->len - c->pos;
  c->calls++;
  if (c->fail && c->pos >= (size_t)c->fail) return -1;
  if (n > len) n = len;
  if (n > 7) n = 7; /* short reads: sash must loop */
  memcpy(buf, c->data + c->pos, n);
  c->pos += n;
  return (ptrdiff_t)n;
}

static void test_parse_read(void) {
  Cursor c;
  struct ArrowArrayStream out;
  struct ArrowSchema schema;
  struct ArrowArray batches[8];
  int n, i;
  int64_t rows = 0, failed = 0;
  memset(&c, 0, sizeof c);
  c.data = LOG_TEXT;
  c.len = strlen(LOG_TEXT);
  /* Chunks of 64 bytes: the three lines come in more than one batch. */
  CHECK_STATUS(sash_parse_read(cursor_read, &c, PARSE_SPEC, 64, &out), SASH_STATUS_OK);
  CHECK(c.calls == 0); /* nothing is read before the caller pulls */
  n = drain(&out, &schema, batches, 8);
  CHECK(n >= 2);
  for (i = 0; i < n; i++) {
    const struct ArrowArray *err = column(&batches[i], &schema, "_error");
    int64_t r;
    rows += batches[i].length;
    for (r = 0; err && r < batches[i].length; r++) failed += is_valid(err, r);
  }
  CHECK(rows == 3 && failed == 1);
  for (i = 0; i < n && i < 8; i++) batches[i].release(&batches[i]);
  if (n >= 0) schema.release(&schema);
  out.release(&out);

  /* A failing callback: the stream's get_next fails with a message. */
  memset(&c, 0, sizeof c);
  c.data = LOG_TEXT;
  c.len = strlen(LOG_TEXT);
  c.fail = 20;
  CHECK_STATUS(sash_parse_read(cursor_read, &c, PARSE_SPEC, 16, &out), SASH_STATUS_OK);
  {
    struct ArrowArray a;
    int rc = 0, k;
    for (k = 0; k < 10 && rc == 0; k++) {
      rc = out.get_next(&out, &a);
      if (rc == 0 && a.release == NULL) break;
      if (rc == 0) a.release(&a);
    }
    CHECK(rc != 0);
    CHECK(out.get_last_error(&out) != NULL && strstr(out.get_last_error(&out), "read callback") != NULL);
  }
  out.release(&out);

  /* NULL callback, NULL out, bad spec. */
  CHECK_STATUS(sash_parse_read(NULL, &c, PARSE_SPEC, 0, &out), SASH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sash_parse_read(cursor_read, &c, PARSE_SPEC, 0, NULL), SASH_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sash_parse_read(cursor_read, &c, "[1, 2", 0, &out), SASH_STATUS_INVALID_SPEC);
  CHECK_NOTHING_LIVE();
}

/* The thread count: set, read, refused out of range (leaving it as it was),
 * and never a part of a result: a parse large enough to be cut into parts
 * gives the same rows with one thread and with three. */
static void test_threads(void) {
  CHECK_STATUS(sash_set_threads(3), SASH_STATUS_OK);
  CHECK(sash_get_threads() == 3);
  CHECK_STATUS(sash_set_threads(100000), SASH_STATUS_INVALID_INPUT);
  CHECK(strstr(sash_last_error_message(), "threads") != NULL);
  CHECK(sash_get_threads() == 3);

  size_t line_len = strlen(LOG_TEXT), copies = (3u << 20) / line_len;
  char *text = malloc(line_len * copies);
  for (size_t i = 0; i < copies; i++) memcpy(text + i * line_len, LOG_TEXT, line_len);
  struct ArrowArray one, three;
  struct ArrowSchema one_schema, three_schema;
  CHECK_STATUS(sash_set_threads(1), SASH_STATUS_OK);
  CHECK_STATUS(sash_parse_bytes((const uint8_t *)text, line_len * copies, PARSE_SPEC, &one, &one_schema), SASH_STATUS_OK);
  CHECK_STATUS(sash_set_threads(3), SASH_STATUS_OK);
  CHECK_STATUS(sash_parse_bytes((const uint8_t *)text, line_len * copies, PARSE_SPEC, &three, &three_schema), SASH_STATUS_OK);
  CHECK(one.length == (int64_t)(3 * copies) && three.length == one.length);
  const struct ArrowArray *a = column(&one, &one_schema, "status"), *b = column(&three, &three_schema, "status");
  CHECK(a && b);
  if (a && b && three.length == one.length) {
    int same = 1;
    for (int64_t i = 0; i < one.length; i++) {
      same &= is_valid(a, i) == is_valid(b, i) && (!is_valid(a, i) || u16_at(a, i) == u16_at(b, i));
    }
    CHECK(same);
    CHECK(u16_at(b, one.length - 3) == 200 && !is_valid(b, one.length - 1));
  }
  release_out(&one, &one_schema);
  release_out(&three, &three_schema);
  free(text);
  CHECK_STATUS(sash_set_threads(0), SASH_STATUS_OK);
  CHECK(sash_get_threads() >= 1);
  CHECK_NOTHING_LIVE();
}

int main(void) {
  test_version();
  test_threads();
  test_window_agg();
  test_rolling();
  test_window_stream();
  test_rolling_stream_handle();
  test_window_stream_golden();
  test_window_agg_stream();
  test_rolling_stream();
  test_parse();
  test_parse_bytes();
  test_parse_stream();
  test_parse_read();
  test_errors_spec();
  test_errors_null_and_released();
  test_errors_malformed();
  test_errors_stream();
  if (g_failures) {
    fprintf(stderr, "test_sash: %d of %d checks failed\n", g_failures, g_checks);
    return 1;
  }
  printf("test_sash: %d checks passed (libsash %s)\n", g_checks, sash_version());
  return 0;
}
