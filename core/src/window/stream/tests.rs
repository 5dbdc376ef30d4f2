use super::*;
use arrow_array::cast::AsArray;
use arrow_array::{ArrayRef, Float64Array, Int64Array, StringArray};
use arrow_schema::{DataType, Field, Schema, SortOptions};
use arrow_select::concat::concat_batches;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;

fn events(rng: &mut StdRng, rows: usize, disorder: i64) -> RecordBatch {
    let mut t = 0i64;
    let mut ts = Vec::new();
    for _ in 0..rows {
        t += rng.random_range(0..4);
        ts.push((t - rng.random_range(0..=disorder)).max(0));
    }
    let keys: Vec<Option<&str>> = (0..rows).map(|_| [Some("a"), Some("b"), None][rng.random_range(0..3)]).collect();
    let values: Vec<Option<f64>> =
        (0..rows).map(|_| if rng.random_range(0..8) == 0 { None } else { Some(rng.random_range(-50..50) as f64) }).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("ts", DataType::Int64, false),
        Field::new("key", DataType::Utf8, true),
        Field::new("v", DataType::Float64, true),
    ]));
    let columns: Vec<ArrayRef> =
        vec![Arc::new(Int64Array::from(ts)), Arc::new(StringArray::from(keys)), Arc::new(Float64Array::from(values))];
    RecordBatch::try_new(schema, columns).unwrap()
}

/// Rows sorted as `window_agg` sorts them: window start, keys, window end.
fn sorted(batch: &RecordBatch) -> RecordBatch {
    sorted_by(batch, &["window_start", "key", "window_end"])
}

const AGGS: &str = r#"["count() as n", "sum(v) as s", "min(v) as lo", "max(v) as hi", "first(v) as f", "last(v) as l", "median(v) as med", "count_distinct(v) as cd", "max_by(key, v) as mb"]"#;

#[test]
fn pushes_of_any_split_within_lateness_emit_what_window_agg_gives() {
    let mut rng = StdRng::seed_from_u64(11);
    for case in 0..200 {
        let disorder = rng.random_range(0..6);
        let rows = rng.random_range(0..300);
        let input = events(&mut rng, rows, disorder);
        let window = match rng.random_range(0..3) {
            0 => r#""every": 10"#.to_string(),
            1 => r#""every": 4, "period": 10"#.to_string(),
            _ => format!(r#""session_gap": {}"#, rng.random_range(1..8)),
        };
        let closed =
            if window.contains("session") { "" } else { [r#""closed": "left", "#, r#""closed": "right", "#][rng.random_range(0..2)] };
        let json = format!(r#"{{"time": "ts", {window}, "by": "key", {closed}"aggs": {AGGS}}}"#);
        let spec = WindowSpec::from_json(&json).unwrap();
        let want = crate::window::window_agg(&input.schema(), std::slice::from_ref(&input), &spec).unwrap();
        let with_lateness = format!("{}, \"lateness\": {disorder}}}", json.trim_end_matches('}'));
        let mut stream = WindowStream::from_json(&with_lateness).unwrap();
        let mut emitted = Vec::new();
        let mut at = 0;
        while at < input.num_rows() {
            let len = rng.random_range(0..=(input.num_rows() - at).min(40));
            emitted.push(stream.push(&input.slice(at, len)).unwrap());
            at += len;
            if rng.random_bool(0.1) {
                let w = stream.watermark().unwrap_or(0);
                emitted.push(stream.advance(w - 1).unwrap());
            }
        }
        emitted.push(stream.finish().unwrap());
        assert_eq!(stream.stats().rows_late, 0, "case {case}: disorder within lateness makes no row late");
        let emitted: Vec<RecordBatch> = emitted.into_iter().filter(|b| b.num_rows() > 0).collect();
        let got =
            if emitted.is_empty() { RecordBatch::new_empty(want.schema()) } else { concat_batches(&want.schema(), &emitted).unwrap() };
        assert_eq!(sorted(&got), sorted(&want), "case {case}: {json}, lateness {disorder}");
    }
}

#[test]
fn a_window_is_emitted_once_the_watermark_passes_its_end_and_late_rows_are_returned() {
    let schema = Arc::new(Schema::new(vec![Field::new("ts", DataType::Int64, false), Field::new("v", DataType::Float64, true)]));
    let batch = |ts: Vec<i64>| {
        let n = ts.len();
        RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(ts)), Arc::new(Float64Array::from(vec![1.0; n]))]).unwrap()
    };
    let mut stream = WindowStream::from_json(r#"{"time": "ts", "every": 10, "aggs": ["count() as n"], "lateness": 2}"#).unwrap();
    assert_eq!(stream.push(&batch(vec![1, 5, 11])).unwrap().num_rows(), 0); // W = 9
    let out = stream.push(&batch(vec![12])).unwrap(); // W = 10: [0, 10) closes
    assert_eq!(out.num_rows(), 1);
    assert_eq!(out.column_by_name("n").unwrap().as_primitive::<arrow_array::types::Int64Type>().value(0), 2);
    // Time 3 falls only in [0, 10), already emitted: late, never counted.
    assert_eq!(stream.push(&batch(vec![3, 15])).unwrap().num_rows(), 0);
    assert_eq!(stream.stats().rows_late, 1);
    let late = stream.take_late().unwrap();
    assert_eq!(late.column(0).as_primitive::<arrow_array::types::Int64Type>().values().to_vec(), vec![3]);
    assert_eq!(stream.take_late().unwrap().num_rows(), 0, "taking clears");
    // advance never moves the watermark back.
    assert_eq!(stream.advance(0).unwrap().num_rows(), 0);
    assert_eq!(stream.watermark(), Some(13));
    let out = stream.advance(20).unwrap();
    assert_eq!(out.column_by_name("n").unwrap().as_primitive::<arrow_array::types::Int64Type>().value(0), 3);
    assert_eq!(stream.finish().unwrap().num_rows(), 0);
    assert!(stream.push(&batch(vec![30])).is_err(), "no push after finish");
}

#[test]
fn a_session_is_emitted_once_the_watermark_reaches_its_last_time_plus_the_gap() {
    let schema = Arc::new(Schema::new(vec![Field::new("ts", DataType::Int64, false), Field::new("v", DataType::Float64, true)]));
    let batch = |ts: Vec<i64>| {
        let n = ts.len();
        RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(ts)), Arc::new(Float64Array::from(vec![1.0; n]))]).unwrap()
    };
    let n = |out: &RecordBatch| out.column_by_name("n").unwrap().as_primitive::<arrow_array::types::Int64Type>().values().to_vec();
    let mut stream = WindowStream::from_json(r#"{"time": "ts", "session_gap": 5, "aggs": ["count() as n"], "lateness": 1}"#).unwrap();
    assert_eq!(stream.push(&batch(vec![1, 3])).unwrap().num_rows(), 0); // W = 2
                                                                        // 2 is not late (W = 2) and joins the session; then W = 9 ≥ 3 + 5: [1, 8) closes.
    let out = stream.push(&batch(vec![2, 10])).unwrap();
    assert_eq!(n(&out), vec![3]);
    assert_eq!(out.column_by_name("window_end").unwrap().as_primitive::<arrow_array::types::Int64Type>().value(0), 8);
    // 8 is before the watermark (9): late, even though it would start a session of its own.
    assert_eq!(stream.push(&batch(vec![8])).unwrap().num_rows(), 0);
    assert_eq!(stream.stats().rows_late, 1);
    // Two open sessions that a row on time joins are one.
    let mut stream = WindowStream::from_json(r#"{"time": "ts", "session_gap": 5, "aggs": ["count() as n"], "lateness": 10}"#).unwrap();
    stream.push(&batch(vec![0, 8])).unwrap();
    assert_eq!(stream.stats().open_windows, 2);
    stream.push(&batch(vec![4])).unwrap();
    assert_eq!(stream.stats().open_windows, 1);
    assert_eq!(n(&stream.finish().unwrap()), vec![3]);
}

#[test]
fn advance_to_takes_a_watermark_of_any_time_type_converted_to_the_time_column() {
    use arrow_array::{Date32Array, TimestampMicrosecondArray, TimestampMillisecondArray};
    let schema = Arc::new(Schema::new(vec![Field::new("ts", DataType::Timestamp(arrow_schema::TimeUnit::Millisecond, None), false)]));
    let mut stream = WindowStream::from_json(r#"{"time": "ts", "every": "1d", "aggs": ["count() as n"]}"#).unwrap();
    let before = stream.advance_to(&TimestampMicrosecondArray::from(vec![5])).unwrap_err();
    assert!(before.to_string().contains("push first"), "{before}");
    stream.advance_to(&Int64Array::from(vec![-10])).unwrap();
    assert_eq!(stream.watermark(), Some(-10), "ticks are taken before the first push");
    let day = 86_400_000i64;
    let rows = |ts: Vec<i64>| RecordBatch::try_new(schema.clone(), vec![Arc::new(TimestampMillisecondArray::from(ts))]).unwrap();
    stream.push(&rows(vec![1, 2])).unwrap();
    // 1 day in microseconds: the first window [0, 1 day) closes.
    let out = stream.advance_to(&TimestampMicrosecondArray::from(vec![day * 1000])).unwrap();
    assert_eq!(out.num_rows(), 1);
    assert_eq!(stream.watermark(), Some(day));
    // A date: day 2 at midnight closes [1 day, 2 days).
    stream.push(&rows(vec![day + 1])).unwrap();
    assert_eq!(stream.advance_to(&Date32Array::from(vec![2])).unwrap().num_rows(), 1);
    assert_eq!(stream.watermark(), Some(2 * day));
    let wrong = stream.advance_to(&StringArray::from(vec!["soon"])).unwrap_err();
    assert_eq!(wrong.kind(), crate::error::ErrorKind::WrongType, "{wrong}");
    assert!(stream.advance_to(&Int64Array::from(vec![Some(1), None])).is_err());
    assert!(stream.advance_to(&TimestampMicrosecondArray::from(vec![None::<i64>])).is_err());
    assert_eq!(stream.watermark(), Some(2 * day), "failed advances change nothing");
}

#[test]
fn a_push_past_max_state_bytes_fails_and_changes_nothing() {
    let mut rng = StdRng::seed_from_u64(3);
    let input = events(&mut rng, 400, 0);
    let json = format!(r#"{{"time": "ts", "every": 1000, "by": "key", "aggs": {AGGS}}}"#);
    let mut unlimited = WindowStream::from_json(&json).unwrap();
    unlimited.push(&input.slice(0, 100)).unwrap();
    let after_100 = unlimited.stats().state_bytes;
    unlimited.push(&input.slice(100, 300)).unwrap();
    let after_400 = unlimited.stats().state_bytes;
    assert!(after_400 > after_100, "the values of median and count_distinct grow the state");

    let limited = format!("{}, \"max_state_bytes\": {after_100}}}", json.trim_end_matches('}'));
    let mut stream = WindowStream::from_json(&limited).unwrap();
    stream.push(&input.slice(0, 100)).unwrap();
    let before = stream.snapshot().unwrap();
    let err = stream.push(&input.slice(100, 300)).unwrap_err();
    assert_eq!(err.kind(), crate::error::ErrorKind::ResourceLimit, "{err}");
    assert!(err.to_string().contains("max_state_bytes"), "{err}");
    assert_eq!(stream.snapshot().unwrap(), before, "a push over the limit changes nothing");
    // The limit travels with the snapshot.
    let mut restored = WindowStream::restore(&before).unwrap();
    assert_eq!(restored.push(&input.slice(100, 300)).unwrap_err().kind(), crate::error::ErrorKind::ResourceLimit);
    for bad in [r#""max_state_bytes": -1"#, r#""max_state_bytes": "1MB""#, r#""max_state_bytes": 1.5"#] {
        let json = format!(r#"{{"time": "ts", "every": 10, "aggs": ["count()"], {bad}}}"#);
        assert_eq!(WindowStream::from_json(&json).unwrap_err().kind(), crate::error::ErrorKind::InvalidSpec, "{bad}");
    }
}

#[test]
fn a_failed_push_leaves_the_stream_as_it_was() {
    let schema = Arc::new(Schema::new(vec![Field::new("ts", DataType::Int64, true), Field::new("v", DataType::Float64, true)]));
    let mut stream = WindowStream::from_json(r#"{"time": "ts", "every": 10, "aggs": ["sum(v) as s"]}"#).unwrap();
    let good =
        RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1, 2])), Arc::new(Float64Array::from(vec![1.0, 2.0]))])
            .unwrap();
    stream.push(&good).unwrap();
    let before = (stream.snapshot().unwrap(), stream.watermark(), stream.stats());
    // A null time under null_time = "error".
    let null_time = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(Int64Array::from(vec![Some(30), None])), Arc::new(Float64Array::from(vec![1.0, 2.0]))],
    )
    .unwrap();
    assert!(stream.push(&null_time).is_err());
    // Another schema.
    let other = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("ts", DataType::Int64, true)])),
        vec![Arc::new(Int64Array::from(vec![40]))],
    )
    .unwrap();
    assert!(stream.push(&other).unwrap_err().to_string().contains("schema of the first push"));
    assert_eq!((stream.snapshot().unwrap(), stream.watermark(), stream.stats()), before);
    let out = stream.finish().unwrap();
    assert_eq!(out.column_by_name("s").unwrap().as_primitive::<arrow_array::types::Float64Type>().value(0), 3.0);
}

#[test]
fn a_restored_stream_goes_on_as_if_it_never_stopped() {
    let mut rng = StdRng::seed_from_u64(5);
    for case in 0..60 {
        let rows = rng.random_range(0..200);
        let input = events(&mut rng, rows, 3);
        let window = if case % 2 == 0 { r#""every": 4, "period": 10"# } else { r#""session_gap": 3"# };
        let json = format!(r#"{{"time": "ts", {window}, "by": "key", "aggs": {AGGS}, "lateness": 1}}"#);
        let (mut straight, mut restarted) = (WindowStream::from_json(&json).unwrap(), WindowStream::from_json(&json).unwrap());
        let mut at = 0;
        while at < input.num_rows() {
            let len = rng.random_range(0..=(input.num_rows() - at).min(30));
            let part = input.slice(at, len);
            let want = straight.push(&part).unwrap();
            let snapshot = restarted.snapshot().unwrap();
            restarted = WindowStream::restore(&snapshot).unwrap();
            assert_eq!(restarted.snapshot().unwrap(), snapshot, "case {case}: snapshot(restore(x)) == x");
            assert_eq!(restarted.push(&part).unwrap(), want, "case {case}, rows {at}..");
            at += len;
        }
        assert_eq!(restarted.take_late().unwrap(), straight.take_late().unwrap(), "case {case}");
        let snapshot = restarted.snapshot().unwrap();
        let mut restarted = WindowStream::restore(&snapshot).unwrap();
        assert_eq!(restarted.finish().unwrap(), straight.finish().unwrap(), "case {case}");
        assert_eq!(restarted.stats(), straight.stats());
    }
}

#[test]
fn a_cut_or_corrupted_snapshot_is_an_error_never_a_crash() {
    let mut rng = StdRng::seed_from_u64(9);
    let input = events(&mut rng, 100, 2);
    let mut stream =
        WindowStream::from_json(&format!(r#"{{"time": "ts", "every": 10, "by": "key", "aggs": {AGGS}, "lateness": 2}}"#)).unwrap();
    stream.push(&input).unwrap();
    let good = stream.snapshot().unwrap();
    for len in 0..good.len() {
        assert!(WindowStream::restore(&good[..len]).is_err(), "cut at {len}");
    }
    for _ in 0..3000 {
        let mut bad = good.clone();
        for _ in 0..rng.random_range(1..4) {
            let at = rng.random_range(0..bad.len());
            bad[at] ^= 1 << rng.random_range(0..8);
        }
        // An error, or a stream that still works.
        if let Ok(mut restored) = WindowStream::restore(&bad) {
            let _ = restored.push(&input);
            let _ = restored.finish();
        }
    }
    let mut future = good.clone();
    future[8] = 3;
    assert!(WindowStream::restore(&future).unwrap_err().to_string().contains("format version 3"));
    assert!(WindowStream::restore(b"not a snapshot").is_err());
}

/// Events keyed by an integer that drifts with time (old keys stop
/// arriving, new ones start) and by a second, string key; times in
/// `disorder` of order.
fn drifting_events(rng: &mut StdRng, rows: usize, disorder: i64, keys: i64) -> RecordBatch {
    let mut t = 0i64;
    let (mut ts, mut id, mut tag, mut v) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for row in 0..rows {
        t += rng.random_range(0..3);
        ts.push((t - rng.random_range(0..=disorder)).max(0));
        id.push((rng.random_range(0..8) != 0).then(|| row as i64 / 4 + rng.random_range(0..keys)));
        tag.push(["x", "y"][rng.random_range(0..2)]);
        v.push((rng.random_range(0..8) != 0).then(|| rng.random_range(-50..50) as f64));
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("ts", DataType::Int64, false),
        Field::new("id", DataType::Int64, true),
        Field::new("tag", DataType::Utf8, false),
        Field::new("v", DataType::Float64, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ts)),
        Arc::new(Int64Array::from(id)),
        Arc::new(StringArray::from(tag)),
        Arc::new(Float64Array::from(v)),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

fn sorted_by(batch: &RecordBatch, names: &[&str]) -> RecordBatch {
    let columns = names
        .iter()
        .map(|name| arrow_ord::sort::SortColumn {
            values: batch.column_by_name(name).unwrap().clone(),
            options: Some(SortOptions { descending: false, nulls_first: false }),
        })
        .collect::<Vec<_>>();
    let order = arrow_ord::sort::lexsort_to_indices(&columns, None).unwrap();
    let columns = batch.columns().iter().map(|c| arrow_select::take::take(c, &order, None).unwrap()).collect();
    RecordBatch::try_new(batch.schema(), columns).unwrap()
}

/// Every grid (tumbling, hopping with overlaps or gaps, offsets, both
/// closings), keys that come and go in their thousands (the stream forgets
/// the idle ones), and a restart from a snapshot at random pushes: what the
/// stream emits is `window_agg` over all the rows, and each snapshot
/// restores to the same bytes.
#[test]
fn grid_streams_with_keys_that_come_and_go_emit_what_window_agg_gives() {
    let mut rng = StdRng::seed_from_u64(17);
    for case in 0..60 {
        let disorder = rng.random_range(0..5);
        let rows = rng.random_range(0..6000);
        let keys = rng.random_range(1..40);
        let input = drifting_events(&mut rng, rows, disorder, keys);
        let every = rng.random_range(1..12);
        let period = [every, every * rng.random_range(1..4), rng.random_range(1..20)][rng.random_range(0..3)];
        let closed = ["left", "right"][rng.random_range(0..2)];
        let offset = rng.random_range(-5..5);
        let by = [r#"["id"]"#, r#"["id", "tag"]"#][rng.random_range(0..2)];
        let aggs = r#"["count() as n", "sum(v) as s", "min(v) as lo", "first(v) as f", "last(v) as l", "count_distinct(v) as cd"]"#;
        let json = format!(
            r#"{{"time": "ts", "every": {every}, "period": {period}, "offset": {offset}, "closed": "{closed}", "by": {by}, "aggs": {aggs}}}"#
        );
        let spec = WindowSpec::from_json(&json).unwrap();
        let want = crate::window::window_agg(&input.schema(), std::slice::from_ref(&input), &spec).unwrap();
        let mut stream = WindowStream::from_json(&format!("{}, \"lateness\": {disorder}}}", json.trim_end_matches('}'))).unwrap();
        let mut emitted = Vec::new();
        let mut at = 0;
        while at < input.num_rows() {
            let len = rng.random_range(0..=(input.num_rows() - at).min(700));
            emitted.push(stream.push(&input.slice(at, len)).unwrap());
            at += len;
            if rng.random_bool(0.2) {
                let snapshot = stream.snapshot().unwrap();
                stream = WindowStream::restore(&snapshot).unwrap();
                assert_eq!(stream.snapshot().unwrap(), snapshot, "case {case}: snapshot(restore(x)) == x");
            }
        }
        emitted.push(stream.finish().unwrap());
        assert_eq!(stream.stats().rows_late, 0, "case {case}");
        assert_eq!(stream.stats().open_windows, 0, "case {case}");
        assert_eq!(stream.stats().state_bytes, 0, "case {case}: finish leaves no state");
        let emitted: Vec<RecordBatch> = emitted.into_iter().filter(|b| b.num_rows() > 0).collect();
        let got =
            if emitted.is_empty() { RecordBatch::new_empty(want.schema()) } else { concat_batches(&want.schema(), &emitted).unwrap() };
        let order = ["window_start", "id", "tag", "window_end"];
        let order = if by.contains("tag") { &order[..] } else { &[order[0], order[1], order[3]][..] };
        assert_eq!(sorted_by(&got, order), sorted_by(&want, order), "case {case}: {json}, lateness {disorder}");
    }
}

/// Each emission comes out in `window_agg`'s order already: by window
/// start, then keys (nulls last), then window end.
#[test]
fn each_emission_is_in_window_agg_order() {
    let mut rng = StdRng::seed_from_u64(23);
    let input = drifting_events(&mut rng, 3000, 0, 30);
    let json = r#"{"time": "ts", "every": 4, "period": 10, "by": ["tag", "id"], "aggs": ["count() as n"]}"#;
    let mut stream = WindowStream::from_json(json).unwrap();
    for at in (0..3000).step_by(250) {
        let out = stream.push(&input.slice(at, 250)).unwrap();
        assert_eq!(out, sorted_by(&out, &["window_start", "tag", "id", "window_end"]));
    }
}

/// A hopping stream's snapshot of format version 1 held whole windows:
/// restored, they join the panes that come after, and the results are
/// still `window_agg`'s.
#[test]
fn a_version_1_snapshot_of_hopping_windows_restores() {
    let mut rng = StdRng::seed_from_u64(29);
    let input = events(&mut rng, 400, 0);
    let json = format!(r#"{{"time": "ts", "every": 4, "period": 10, "by": "key", "aggs": {AGGS}}}"#);
    let spec = WindowSpec::from_json(&json).unwrap();
    let schema = input.schema();
    let (head, tail) = (input.slice(0, 200), input.slice(200, 200));
    // What version 1 wrote after pushing `head` with lateness 0: the states of the windows still open.
    let mut stream = WindowStream::from_json(&json).unwrap();
    let mut emitted = vec![stream.push(&head).unwrap()];
    let watermark = stream.watermark();
    let states = crate::window::two_phase::window_agg_partial(&schema, std::slice::from_ref(&head), &spec, 0).unwrap();
    let ends = states.column_by_name("window_end").unwrap().as_primitive::<arrow_array::types::Int64Type>().clone();
    let open: BooleanArray = ends.iter().map(|end| Some(end.unwrap() > watermark.unwrap())).collect();
    let states = filter_record_batch(&states, &open).unwrap();
    let meta = stream.progress.meta("window_stream", &stream.spec_json);
    let input_section = snapshot::ipc_stream(&schema, &[]).unwrap();
    let v1 = snapshot::write(&meta, 1, &[input_section, snapshot::ipc_stream(&states.schema(), &[&states]).unwrap()]);

    let mut restored = WindowStream::restore(&v1).unwrap();
    assert_eq!(restored.stats().open_windows, states.num_rows());
    // Snapshots of the restored stream carry the whole windows on, in version 2.
    let again = restored.snapshot().unwrap();
    assert_eq!(WindowStream::restore(&again).unwrap().snapshot().unwrap(), again);
    emitted.push(restored.push(&tail).unwrap());
    emitted.push(restored.finish().unwrap());
    let want = crate::window::window_agg(&schema, std::slice::from_ref(&input), &spec).unwrap();
    let got = concat_batches(&want.schema(), emitted.iter().filter(|b| b.num_rows() > 0)).unwrap();
    assert_eq!(sorted(&got), sorted(&want));
}
