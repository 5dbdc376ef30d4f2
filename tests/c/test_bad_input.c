/* The bad-input table of the C API: each row is one hostile or wrong input,
 * the status it must give, and a word its message must hold. The process
 * surviving every row is the other half of the check; `make test-c` runs
 * this under valgrind and AddressSanitizer, and fails if the library wrote
 * anything to stderr. */
#include <limits.h>

#include "arrow_build.h"

static int g_failures = 0;
static int g_rows = 0;

/* ---------- inputs ---------- */

static struct ArrowSchema schema_named(const char *ts, const char *key, const char *val) {
  struct ArrowSchema cols[3];
  cols[0] = make_schema("tsm:", ts, 0, NULL);
  cols[1] = make_schema("i", key, 0, NULL);
  cols[2] = make_schema("g", val, 0, NULL);
  return make_schema("+s", "", 3, cols);
}

static sash_status window_on(struct ArrowArray in, struct ArrowSchema schema, const char *spec) {
  struct ArrowArray out;
  struct ArrowSchema out_schema;
  sash_status st = sash_window_agg(&in, &schema, spec, &out, &out_schema);
  if (st == SASH_STATUS_OK) {
    out.release(&out);
    out_schema.release(&out_schema);
  }
  return st;
}

static sash_status window(const char *spec) { return window_on(events_batch(0, 4), events_schema(), spec); }

static sash_status rolling(const char *spec) {
  struct ArrowArray in = events_batch(0, 4), out;
  struct ArrowSchema schema = events_schema(), out_schema;
  sash_status st = sash_rolling(&in, &schema, spec, &out, &out_schema);
  if (st == SASH_STATUS_OK) {
    out.release(&out);
    out_schema.release(&out_schema);
  }
  return st;
}

/* One int64 column of the given format and child schemas as a record batch. */
static sash_status window_with_column_format(const char *format, int64_t n_children) {
  struct ArrowSchema cols[3], kids[2];
  struct ArrowArray in = events_batch(0, 4);
  int64_t i;
  for (i = 0; i < n_children; i++) kids[i] = make_schema("i", "child", 0, NULL);
  cols[0] = make_schema("tsm:", "ts", 0, NULL);
  cols[1] = make_schema(format, "key", n_children, kids);
  cols[2] = make_schema("g", "val", 0, NULL);
  return window_on(in, make_schema("+s", "", 3, cols), "{\"time\": \"ts\", \"every\": \"1m\", \"aggs\": [\"count()\"]}");
}

static sash_status parse_bytes(const char *spec, const void *data, size_t len) {
  struct ArrowArray out;
  struct ArrowSchema out_schema;
  sash_status st = sash_parse_bytes((const uint8_t *)data, len, spec, &out, &out_schema);
  if (st == SASH_STATUS_OK) {
    out.release(&out);
    out_schema.release(&out_schema);
  }
  return st;
}

static sash_status parse_text(const char *spec, const char *text) { return parse_bytes(spec, text, strlen(text)); }

static const char *TUMBLING = "{\"time\": \"ts\", \"every\": \"1m\", \"aggs\": [\"count()\"]}";

/* ---------- the rows ---------- */

static sash_status r_not_json(void) { return window("{not json"); }
static sash_status r_duplicate_key(void) {
  return window("{\"time\": \"ts\", \"every\": \"1m\", \"every\": \"2m\", \"aggs\": [\"count()\"]}");
}
static sash_status r_unknown_key(void) { return window("{\"time\": \"ts\", \"every\": \"1m\", \"colsed\": \"left\", \"aggs\": [\"count()\"]}"); }
static sash_status r_spec_not_object(void) { return window("[1, 2]"); }
static sash_status r_spec_nested_deep(void) {
  static char spec[4096];
  size_t i;
  for (i = 0; i < 2000; i++) spec[i] = '[';
  spec[2000] = 0;
  return window(spec);
}
static sash_status r_bad_unit(void) { return window("{\"time\": \"ts\", \"every\": \"1x\", \"aggs\": [\"count()\"]}"); }
static sash_status r_unit_twice(void) { return window("{\"time\": \"ts\", \"every\": \"1h1h\", \"aggs\": [\"count()\"]}"); }
static sash_status r_months(void) { return window("{\"time\": \"ts\", \"every\": \"1M\", \"aggs\": [\"count()\"]}"); }
static sash_status r_negative_every(void) { return window("{\"time\": \"ts\", \"every\": \"-5m\", \"aggs\": [\"count()\"]}"); }
static sash_status r_fraction(void) { return window("{\"time\": \"ts\", \"every\": \"1.5h\", \"aggs\": [\"count()\"]}"); }
static sash_status r_huge_number(void) { return window("{\"time\": \"ts\", \"every\": \"99999999999999999999s\", \"aggs\": [\"count()\"]}"); }
static sash_status r_too_many_windows(void) {
  return window("{\"time\": \"ts\", \"every\": \"1ms\", \"period\": \"1000d\", \"aggs\": [\"count()\"]}");
}
static sash_status r_alias_in_mapping(void) { return window("{\"time\": \"ts\", \"every\": \"1m\", \"aggs\": {\"m\": \"mean(val) as y\"}}"); }
static sash_status r_alias_twice(void) { return window("{\"time\": \"ts\", \"every\": \"1m\", \"aggs\": [\"count() as n\", \"sum(val) as n\"]}"); }
static sash_status r_no_aggs(void) { return window("{\"time\": \"ts\", \"every\": \"1m\", \"aggs\": []}"); }
static sash_status r_unknown_function(void) { return window("{\"time\": \"ts\", \"every\": \"1m\", \"aggs\": [\"frobnicate(val)\"]}"); }
static sash_status r_bad_expression(void) { return window("{\"time\": \"ts\", \"every\": \"1m\", \"aggs\": [\"mean(val\"]}"); }
static sash_status r_quantile_range(void) { return window("{\"time\": \"ts\", \"every\": \"1m\", \"aggs\": [\"quantile(val, 1.5)\"]}"); }
static sash_status r_unknown_column(void) { return window("{\"time\": \"ts\", \"every\": \"1m\", \"aggs\": [\"mean(latency)\"]}"); }
static sash_status r_time_wrong_type(void) { return window("{\"time\": \"val\", \"every\": \"1m\", \"aggs\": [\"count()\"]}"); }
static sash_status r_sum_of_time(void) { return window("{\"time\": \"ts\", \"every\": \"1m\", \"aggs\": [\"sum(ts)\"]}"); }
static sash_status r_key_window_start(void) {
  return window_on(events_batch(0, 4), schema_named("ts", "window_start", "val"),
                   "{\"time\": \"ts\", \"every\": \"1m\", \"by\": \"window_start\", \"aggs\": [\"count()\"]}");
}
static sash_status r_two_columns_same_name(void) {
  return window_on(events_batch(0, 4), schema_named("ts", "v", "v"), "{\"time\": \"ts\", \"every\": \"1m\", \"aggs\": [\"sum(v)\"]}");
}
static sash_status r_session_with_offset(void) {
  return window("{\"time\": \"ts\", \"session_gap\": \"1m\", \"offset\": \"1s\", \"aggs\": [\"count()\"]}");
}
static sash_status r_null_spec(void) { return window(NULL); }
static sash_status r_spec_not_utf8(void) { return window("\xff\xfe"); }
static sash_status r_rolling_alias_is_input(void) {
  return rolling("{\"time\": \"ts\", \"period\": \"1m\", \"aggs\": [\"sum(val) as val\"]}");
}
static sash_status r_rolling_zero_period(void) { return rolling("{\"time\": \"ts\", \"period\": \"0i\", \"aggs\": [\"count()\"]}"); }
static sash_status r_format_negative_width(void) { return window_with_column_format("w:-5", 0); }
static sash_status r_format_width_text(void) { return window_with_column_format("w:abc", 0); }
static sash_status r_format_list_no_child(void) { return window_with_column_format("+l", 0); }
static sash_status r_format_large_list_two_children(void) { return window_with_column_format("+L", 2); }
static sash_status r_format_fixed_list_no_child(void) { return window_with_column_format("+w:3", 0); }
static sash_status r_format_run_end_one_child(void) { return window_with_column_format("+r", 1); }
static sash_status r_format_union_ids(void) { return window_with_column_format("+ud:0,1", 1); }
static sash_status r_format_union_bad_id(void) { return window_with_column_format("+ud:x", 1); }
static sash_status r_format_map_no_child(void) { return window_with_column_format("+m", 0); }
static sash_status r_format_unknown(void) { return window_with_column_format("zz", 0); }
static sash_status r_nulls_without_validity(void) {
  struct ArrowArray cols[3];
  const void *bufs[2];
  size_t sizes[2] = {0, sizeof(double) * 4};
  bufs[0] = NULL;
  bufs[1] = VAL;
  cols[0] = make_int64(TS, 4);
  cols[1] = make_int32(KEY, 4);
  cols[2] = make_array(4, 2, 2, bufs, sizes, 0, NULL);
  return window_on(make_batch(4, 3, cols), events_schema(), "{\"time\": \"ts\", \"every\": \"1m\", \"aggs\": [\"sum(val)\"]}");
}
static sash_status r_negative_length(void) {
  struct ArrowArray in = events_batch(0, 4);
  in.length = -1;
  return window_on(in, events_schema(), TUMBLING);
}
static sash_status r_batch_offset_past_columns(void) {
  /* The columns have 4 rows; the batch declares 4 rows from row 2. */
  struct ArrowArray in = events_batch(0, 4);
  in.offset = 2;
  return window_on(in, events_schema(), TUMBLING);
}
static sash_status r_released_array(void) {
  struct ArrowArray in = events_batch(0, 4);
  struct ArrowSchema schema = events_schema();
  sash_status st;
  in.release(&in);
  st = window_on(in, schema, TUMBLING);
  return st;
}
static sash_status r_not_a_struct(void) {
  return window_on(make_int64(TS, 4), make_schema("l", "ts", 0, NULL), TUMBLING);
}
static sash_status r_parse_unknown_format(void) { return parse_text("{\"format\": \"nginx2\"}", "x\n"); }
static sash_status r_parse_regex_no_pattern(void) { return parse_text("{\"format\": \"regex\"}", "x\n"); }
static sash_status r_parse_bad_regex(void) { return parse_text("{\"format\": \"regex\", \"pattern\": \"(?P<a>[\"}", "x\n"); }
static sash_status r_parse_json_no_schema(void) { return parse_text("{\"format\": \"json\"}", "{}\n"); }
static sash_status r_parse_empty_field_name(void) { return parse_text("{\"format\": \"logfmt\", \"fields\": {\"\": \"int\"}}", "a=1\n"); }
static sash_status r_parse_bad_timezone(void) { return parse_text("{\"format\": \"syslog\", \"timezone\": \"Mars/Olympus\"}", "x\n"); }
static sash_status r_parse_bad_max_line(void) { return parse_text("{\"format\": \"common\", \"max_line_bytes\": 0}", "x\n"); }
static sash_status r_parse_bad_max_decompressed(void) {
  return parse_text("{\"format\": \"common\", \"max_decompressed_bytes\": \"lots\"}", "x\n");
}
static sash_status r_parse_wrong_array_type(void) {
  struct ArrowArray in = make_int64(TS, 4), out;
  struct ArrowSchema schema = make_schema("l", "lines", 0, NULL), out_schema;
  return sash_parse(&in, &schema, "{\"format\": \"common\"}", &out, &out_schema);
}
static sash_status r_parse_bytes_null_data(void) { return parse_bytes("{\"format\": \"common\"}", NULL, 5); }
static sash_status r_parse_bytes_gzip_garbage(void) { return parse_bytes("{\"format\": \"common\"}", "\x1f\x8bthis is no gzip", 17); }
/* 64 KiB of newlines, gzip -9: a bomb for a bound of 1000 bytes. */
static const unsigned char GZ_NEWLINES[] = {
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xed, 0xc1, 0x21, 0x01,
    0x00, 0x00, 0x00, 0x80, 0xa0, 0xee, 0xff, 0xc1, 0x1e, 0x01, 0x0a, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x6a, 0xef, 0xe2, 0x9b, 0xef, 0x00, 0x00, 0x01, 0x00};
static sash_status r_parse_gzip_bomb(void) {
  return parse_bytes("{\"format\": \"common\", \"max_decompressed_bytes\": 1000}", GZ_NEWLINES, sizeof GZ_NEWLINES);
}
static sash_status r_parse_json_nested_deep(void) {
  /* One row, an error row: the call succeeds. */
  static char line[400100];
  size_t i, n = 200000;
  memcpy(line, "{\"a\":", 5);
  for (i = 0; i < n; i++) line[5 + i] = '[';
  for (i = 0; i < n; i++) line[5 + n + i] = ']';
  line[5 + 2 * n] = '}';
  line[6 + 2 * n] = 0;
  return parse_text("{\"format\": \"json\", \"schema\": [{\"name\": \"a\", \"type\": \"int64\"}]}", line);
}
static sash_status r_parse_invalid_utf8(void) { return parse_text("{\"format\": \"common\"}", "\xc3\x28 bad utf8\n"); }
static sash_status r_parse_read_chunk_too_large(void) {
  struct ArrowArrayStream out;
  return sash_parse_read(NULL, NULL, "{\"format\": \"common\"}", SIZE_MAX, &out) == SASH_STATUS_NULL_ARGUMENT
             ? SASH_STATUS_NULL_ARGUMENT
             : SASH_STATUS_INTERNAL;
}
static intptr_t no_read(void *user_data, uint8_t *buf, size_t len) {
  (void)user_data;
  (void)buf;
  (void)len;
  return 0;
}
static sash_status r_parse_read_chunk_size_max(void) {
  struct ArrowArrayStream out;
  return sash_parse_read(no_read, NULL, "{\"format\": \"common\"}", SIZE_MAX, &out);
}
static sash_status r_parse_null_line(void) {
  static const char *lines[] = {"127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1", NULL};
  struct ArrowArray in = make_utf8(lines, 2), out;
  struct ArrowSchema schema = make_schema("u", "lines", 0, NULL), out_schema;
  sash_status st = sash_parse(&in, &schema, "{\"format\": \"common\"}", &out, &out_schema);
  if (st == SASH_STATUS_OK) {
    st = out.length == 2 ? st : SASH_STATUS_INTERNAL;
    out.release(&out);
    out_schema.release(&out_schema);
  }
  return st;
}
static sash_status r_parse_stream_of_batches(void) {
  struct ArrowArray batches[1];
  struct ArrowArrayStream in, out;
  batches[0] = events_batch(0, 4);
  in = make_stream(events_schema, batches, 1, -1);
  return sash_parse_stream(&in, "{\"format\": \"common\"}", &out);
}
static sash_status r_cancelled_window(void) {
  sash_cancel *token = sash_cancel_new();
  sash_status st;
  sash_cancel_request(token);
  sash_cancel_bind(token);
  st = window(TUMBLING);
  sash_cancel_bind(NULL);
  sash_cancel_free(token);
  return st;
}

/* Streams: a first push fixes the schema; then `second` (another schema) is pushed. */
static sash_status stream_push_then(struct ArrowSchema second) {
  sash_window_stream *stream = NULL;
  struct ArrowArray in = events_batch(0, 2), out;
  struct ArrowSchema schema = events_schema(), out_schema;
  sash_status st = sash_window_stream_new(TUMBLING, &stream);
  if (st == SASH_STATUS_OK) st = sash_window_stream_push(stream, &in, &schema, &out, &out_schema);
  if (st != SASH_STATUS_OK) {
    second.release(&second);
    if (in.release) in.release(&in);
    if (schema.release) schema.release(&schema);
    sash_window_stream_free(stream);
    return st;
  }
  out.release(&out);
  out_schema.release(&out_schema);
  in = events_batch(2, 2);
  st = sash_window_stream_push(stream, &in, &second, &out, &out_schema);
  if (st == SASH_STATUS_OK) {
    out.release(&out);
    out_schema.release(&out_schema);
  }
  sash_window_stream_free(stream);
  return st;
}
static sash_status r_stream_push_other_schema(void) { return stream_push_then(schema_named("ts", "group", "val")); }
static sash_status r_stream_restore_garbage(void) {
  static const uint8_t garbage[] = "SASHSNAP and then nothing a snapshot holds";
  sash_window_stream *stream = NULL;
  sash_status st = sash_window_stream_restore(garbage, sizeof garbage - 1, &stream);
  sash_window_stream_free(stream);
  return st;
}
static sash_status r_stream_restore_empty(void) {
  sash_rolling_stream_handle *stream = NULL;
  sash_status st = sash_rolling_stream_restore(NULL, 0, &stream);
  sash_rolling_stream_free(stream);
  return st;
}
static sash_status r_stream_negative_lateness(void) {
  sash_window_stream *stream = NULL;
  sash_status st = sash_window_stream_new("{\"time\": \"ts\", \"every\": \"1m\", \"aggs\": [\"count()\"], \"lateness\": \"-5s\"}", &stream);
  sash_window_stream_free(stream);
  return st;
}

typedef struct {
  const char *name;
  sash_status (*run)(void);
  sash_status want;
  const char *needle; /* in the message, or NULL */
} Row;

static const Row ROWS[] = {
    {"spec not JSON", r_not_json, SASH_STATUS_INVALID_SPEC, "JSON"},
    {"a key twice in the spec", r_duplicate_key, SASH_STATUS_INVALID_SPEC, "twice"},
    {"an unknown key", r_unknown_key, SASH_STATUS_INVALID_SPEC, "colsed"},
    {"a spec that is no object", r_spec_not_object, SASH_STATUS_INVALID_SPEC, "object"},
    {"a spec nested 2000 deep", r_spec_nested_deep, SASH_STATUS_INVALID_SPEC, "JSON"},
    {"an unknown unit", r_bad_unit, SASH_STATUS_INVALID_DURATION, "unit"},
    {"a unit twice", r_unit_twice, SASH_STATUS_INVALID_DURATION, "twice"},
    {"months", r_months, SASH_STATUS_INVALID_DURATION, "unit 'M'"},
    {"a negative every", r_negative_every, SASH_STATUS_INVALID_SPEC, "positive"},
    {"a fraction", r_fraction, SASH_STATUS_INVALID_DURATION, "fraction"},
    {"a number past 64 bits", r_huge_number, SASH_STATUS_INVALID_DURATION, "large"},
    {"1ms hops over 1000 days", r_too_many_windows, SASH_STATUS_RESOURCE_LIMIT, "windows"},
    {"an alias inside an aggs mapping", r_alias_in_mapping, SASH_STATUS_INVALID_SPEC, "drop the 'as'"},
    {"one alias twice", r_alias_twice, SASH_STATUS_INVALID_SPEC, "twice"},
    {"no aggregation", r_no_aggs, SASH_STATUS_INVALID_SPEC, "empty"},
    {"an unknown function", r_unknown_function, SASH_STATUS_UNKNOWN_FUNCTION, "frobnicate"},
    {"an unclosed call", r_bad_expression, SASH_STATUS_INVALID_EXPRESSION, "mean(val"},
    {"a quantile past 1", r_quantile_range, SASH_STATUS_INVALID_EXPRESSION, "[0, 1]"},
    {"an unknown column", r_unknown_column, SASH_STATUS_UNKNOWN_COLUMN, "latency"},
    {"a float time column", r_time_wrong_type, SASH_STATUS_WRONG_TYPE, "val"},
    {"the sum of timestamps", r_sum_of_time, SASH_STATUS_WRONG_TYPE, "ts"},
    {"a key named window_start", r_key_window_start, SASH_STATUS_INVALID_SPEC, "window_start"},
    {"two columns of one name", r_two_columns_same_name, SASH_STATUS_INVALID_INPUT, "2 columns named 'v'"},
    {"an offset for sessions", r_session_with_offset, SASH_STATUS_INVALID_SPEC, "offset"},
    {"a NULL spec", r_null_spec, SASH_STATUS_NULL_ARGUMENT, "spec_json"},
    {"a spec not UTF-8", r_spec_not_utf8, SASH_STATUS_INVALID_SPEC, "UTF-8"},
    {"a rolling output named like an input", r_rolling_alias_is_input, SASH_STATUS_INVALID_SPEC, "'val'"},
    {"a rolling period of 0 rows", r_rolling_zero_period, SASH_STATUS_INVALID_SPEC, "positive"},
    {"format w:-5", r_format_negative_width, SASH_STATUS_INVALID_ARRAY, "width"},
    {"format w:abc", r_format_width_text, SASH_STATUS_INVALID_ARRAY, "width"},
    {"format +l without a child", r_format_list_no_child, SASH_STATUS_INVALID_ARRAY, "child"},
    {"format +L with two children", r_format_large_list_two_children, SASH_STATUS_INVALID_ARRAY, "child"},
    {"format +w:3 without a child", r_format_fixed_list_no_child, SASH_STATUS_INVALID_ARRAY, "child"},
    {"format +r with one child", r_format_run_end_one_child, SASH_STATUS_INVALID_ARRAY, "child"},
    {"format +ud:0,1 with one child", r_format_union_ids, SASH_STATUS_INVALID_ARRAY, "child"},
    {"format +ud:x", r_format_union_bad_id, SASH_STATUS_INVALID_ARRAY, "union"},
    {"format +m without a child", r_format_map_no_child, SASH_STATUS_INVALID_ARRAY, "child"},
    {"format zz", r_format_unknown, SASH_STATUS_INVALID_ARRAY, "Arrow type"},
    {"null_count without validity", r_nulls_without_validity, SASH_STATUS_INVALID_ARRAY, "validity"},
    {"a negative length", r_negative_length, SASH_STATUS_INVALID_ARRAY, "negative"},
    {"a batch offset past its columns", r_batch_offset_past_columns, SASH_STATUS_INVALID_ARRAY, "needs 6"},
    {"a released array", r_released_array, SASH_STATUS_RELEASED, "released"},
    {"an int64 array as a batch", r_not_a_struct, SASH_STATUS_INVALID_ARRAY, "struct"},
    {"parse: an unknown format", r_parse_unknown_format, SASH_STATUS_INVALID_SPEC, "nginx2"},
    {"parse: regex without pattern", r_parse_regex_no_pattern, SASH_STATUS_INVALID_SPEC, "pattern"},
    {"parse: a broken regex", r_parse_bad_regex, SASH_STATUS_INVALID_SPEC, NULL},
    {"parse: json without schema", r_parse_json_no_schema, SASH_STATUS_INVALID_SPEC, "schema"},
    {"parse: an empty logfmt field name", r_parse_empty_field_name, SASH_STATUS_INVALID_SPEC, "empty name"},
    {"parse: an unknown time zone", r_parse_bad_timezone, SASH_STATUS_INVALID_SPEC, "Mars"},
    {"parse: max_line_bytes 0", r_parse_bad_max_line, SASH_STATUS_INVALID_SPEC, "max_line_bytes"},
    {"parse: max_decompressed_bytes text", r_parse_bad_max_decompressed, SASH_STATUS_INVALID_SPEC, "max_decompressed_bytes"},
    {"parse: an int64 array of lines", r_parse_wrong_array_type, SASH_STATUS_WRONG_TYPE, "Utf8"},
    {"parse_bytes: NULL data, len 5", r_parse_bytes_null_data, SASH_STATUS_NULL_ARGUMENT, "data"},
    {"parse_bytes: gzip magic, then garbage", r_parse_bytes_gzip_garbage, SASH_STATUS_INVALID_INPUT, "gzip"},
    {"parse_bytes: a gzip bomb", r_parse_gzip_bomb, SASH_STATUS_RESOURCE_LIMIT, "max_decompressed_bytes"},
    {"parse_bytes: JSON nested 200,000 deep (an error row)", r_parse_json_nested_deep, SASH_STATUS_OK, NULL},
    {"parse_bytes: invalid UTF-8 (an error row)", r_parse_invalid_utf8, SASH_STATUS_OK, NULL},
    {"parse_read: NULL callback", r_parse_read_chunk_too_large, SASH_STATUS_NULL_ARGUMENT, "read"},
    {"parse_read: chunk_bytes SIZE_MAX", r_parse_read_chunk_size_max, SASH_STATUS_INVALID_SPEC, "chunk_bytes"},
    {"parse: a NULL line (an error row)", r_parse_null_line, SASH_STATUS_OK, NULL},
    {"parse_stream: batches of three columns", r_parse_stream_of_batches, SASH_STATUS_INVALID_INPUT, "exactly one column"},
    {"a cancelled call", r_cancelled_window, SASH_STATUS_CANCELLED, "cancelled"},
    {"stream: a push with another schema than the first", r_stream_push_other_schema, SASH_STATUS_INVALID_INPUT, "first push"},
    {"stream: restore of garbage after the magic", r_stream_restore_garbage, SASH_STATUS_INVALID_INPUT, "snapshot"},
    {"stream: restore of no bytes", r_stream_restore_empty, SASH_STATUS_INVALID_INPUT, "snapshot"},
    {"stream: a negative lateness", r_stream_negative_lateness, SASH_STATUS_INVALID_SPEC, "lateness"},
};

int main(void) {
  size_t i;
  static const int odd_codes[] = {-1, 4, 9, 23, 98, 100, INT_MIN, INT_MAX};
  for (i = 0; i < sizeof ROWS / sizeof ROWS[0]; i++) {
    const Row *row = &ROWS[i];
    sash_status got = row->run();
    const char *message = sash_last_error_message();
    g_rows++;
    if (got != row->want || (row->needle && !strstr(message, row->needle))) {
      g_failures++;
      printf("FAILED %s: got %s (%s), want %s with '%s'\n", row->name, sash_status_name(got), message, sash_status_name(row->want),
             row->needle ? row->needle : "");
    }
    if (g_live_arrays != 0 || g_live_schemas != 0 || g_live_streams != 0) {
      g_failures++;
      printf("FAILED %s: left %d arrays, %d schemas, %d streams unreleased\n", row->name, g_live_arrays, g_live_schemas,
             g_live_streams);
      g_live_arrays = g_live_schemas = g_live_streams = 0;
    }
  }
  /* Every status has a name; any other value is "unknown", never a crash. */
  for (i = 0; i < sizeof odd_codes / sizeof odd_codes[0]; i++) {
    g_rows++;
    if (strcmp(sash_status_name(odd_codes[i]), "unknown") != 0) {
      g_failures++;
      printf("FAILED sash_status_name(%d) = %s\n", odd_codes[i], sash_status_name(odd_codes[i]));
    }
  }
  g_rows++;
  if (strcmp(sash_status_name(SASH_STATUS_RESOURCE_LIMIT), "resource_limit") != 0 ||
      strcmp(sash_status_name(SASH_STATUS_CANCELLED), "cancelled") != 0) {
    g_failures++;
    printf("FAILED the names of the new statuses\n");
  }
  printf("test_bad_input: %d passed, %d failed\n", g_rows - g_failures, g_failures);
  return g_failures ? 1 : 0;
}
