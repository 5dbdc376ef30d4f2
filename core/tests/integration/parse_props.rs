//! Parsing: zero-copy views, input kinds, huge lines, and property tests
//! (any bytes, any format: no panic, one row per line).

use arrow_array::cast::AsArray;
use arrow_array::{Array, StringArray, StringViewArray};
use arrow_buffer::Buffer;
use proptest::prelude::*;
use sash_core::{parse_bytes, parse_lines, ParseReader, ParseSpec};

const LINE: &str = r#"83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /presentations/logstash-monitorama-2013/images/kibana-search.png HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/logstash-monitorama-2013/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1)""#;

fn combined() -> ParseSpec {
    ParseSpec::from_json(r#"{"format": "combined"}"#).unwrap()
}

#[test]
fn string_fields_are_views_into_the_input_buffer() {
    let input = StringArray::from(vec![LINE, LINE]);
    let out = parse_lines(&input, &combined()).unwrap();
    let agent = out.batch.column_by_name("user_agent").unwrap().as_string_view();
    let input_data = input.values().as_ptr();
    assert!(agent.data_buffers().iter().any(|b| b.as_ptr() == input_data), "the views point at the input's own buffer");
    assert_eq!(agent.value(1), "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1)");
    // Nothing was copied: the only other buffer is the empty side buffer for decoded escapes.
    assert_eq!(agent.data_buffers().iter().map(|b| b.len()).sum::<usize>(), input.values().len());
}

#[test]
fn sliced_and_view_inputs_give_the_same_rows() {
    let lines = vec!["bad line", LINE, "x", LINE];
    let whole = StringArray::from(lines.clone());
    let sliced = whole.slice(1, 3);
    let a = parse_lines(&sliced, &combined()).unwrap().batch;
    let views = StringViewArray::from(lines[1..].to_vec());
    let b = parse_lines(&views, &combined()).unwrap().batch;
    assert_eq!(a.num_rows(), 3);
    assert_eq!(a, b);
    assert!(a.column_by_name("_error").unwrap().is_null(0));
    assert!(a.column_by_name("_error").unwrap().is_valid(1));
}

#[test]
fn a_one_megabyte_line_and_cr_only_line_ends() {
    let huge = format!("a=1 msg={}", "x".repeat(1 << 20));
    let text = format!("a=0\r{huge}\ra=2\r");
    let spec = ParseSpec::from_json(r#"{"format": "logfmt", "fields": {"a": "int", "msg": "string"}}"#).unwrap();
    let out = parse_bytes(&Buffer::from(text.as_bytes()), &spec).unwrap();
    assert_eq!((out.parsed, out.failed), (3, 0));
    assert_eq!(out.batch.column_by_name("msg").unwrap().as_string_view().value(1).len(), 1 << 20);
    // Through the chunked reader with chunks much smaller than the line.
    let reader = ParseReader::new(std::io::Cursor::new(text.into_bytes()), &spec).unwrap().with_chunk_bytes(4096);
    let rows: usize = reader.map(|b| b.unwrap().batch.num_rows()).sum();
    assert_eq!(rows, 3);
}

const SPECS: &[&str] = &[
    r#"{"format": "common"}"#,
    r#"{"format": "combined"}"#,
    r#"{"format": "syslog", "reference_time": "2024-06-01T00:00:00Z", "timezone": "America/New_York"}"#,
    r#"{"format": "apache_error"}"#,
    r#"{"format": "logfmt"}"#,
    r#"{"format": "logfmt", "fields": {"a": "int", "b": "float", "c": "bool", "t": "timestamp", "s": "string"}}"#,
    r#"{"format": "json", "schema": [{"name": "a", "type": "int64"}, {"name": "s", "type": {"struct": [{"name": "b", "type": "utf8"}]}}]}"#,
    r#"{"format": "regex", "pattern": "(?P<a>\\d+) (?P<b>\\w*)", "types": {"a": "int"}}"#,
];

/// Bytes that look like log lines often enough to reach deep into the parsers.
fn loggy_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"<34>1 ".to_vec()),
        Just(b"Jun  4 12:00:00 ".to_vec()),
        Just(b"[10/Oct/2000:13:55:36 -0700] ".to_vec()),
        Just(b"[Sun Dec 04 04:47:44 2005] [core:error] [pid 1:tid 2] ".to_vec()),
        Just(b"\"GET / HTTP/1.1\" 200 12 ".to_vec()),
        Just(b"a=1 b=\"x\\\"y\" ".to_vec()),
        Just(b"{\"a\": 1, \"s\": {\"b\": \"x\"}}".to_vec()),
        Just(b"\\x22".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        Just(vec![0u8]),
        Just(vec![0xff, 0xc3]),
        Just("é€".as_bytes().to_vec()),
        proptest::collection::vec(any::<u8>(), 0..8),
        "[ -~]{0,12}".prop_map(String::into_bytes),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_never_panic_and_give_one_row_per_line(bytes in loggy_bytes(), which in 0..SPECS.len()) {
        let spec = ParseSpec::from_json(SPECS[which]).unwrap();
        let lines = sash_core::parse::split_lines_for_tests(&bytes);
        let out = parse_bytes(&Buffer::from(bytes.as_slice()), &spec).unwrap();
        prop_assert_eq!(out.batch.num_rows(), lines);
        prop_assert_eq!(out.parsed + out.failed, lines);
        // The same bytes as one Binary element each line: also no panic.
        let array = arrow_array::BinaryArray::from_iter_values(bytes.split(|&c| c == b'\n'));
        let out = parse_lines(&array, &spec).unwrap();
        prop_assert_eq!(out.batch.num_rows(), array.len());
        // The views are valid UTF-8 within their buffers.
        for column in out.batch.columns() {
            if let Some(v) = column.as_string_view_opt() {
                let (views, buffers, nulls) = v.clone().into_parts();
                prop_assert!(StringViewArray::try_new(views, buffers, nulls).is_ok());
            }
        }
    }
}

/// The views of every string column are valid UTF-8 within their buffers.
fn views_are_utf8(out: &sash_core::parse::ParseOutput) -> bool {
    out.batch.columns().iter().filter_map(|c| c.as_string_view_opt()).all(|v| {
        let (views, buffers, nulls) = v.clone().into_parts();
        StringViewArray::try_new(views, buffers, nulls).is_ok()
    })
}

/// Binary elements that split a character between them: the whole buffer is
/// valid UTF-8, each element is not. Every format must fail those lines
/// rather than hand out strings of invalid UTF-8.
#[test]
fn binary_elements_splitting_a_character_are_invalid_lines() {
    let array = arrow_array::BinaryArray::from_iter_values([&b"a=x\xc3"[..], &b"\xa9 b=y"[..]]);
    for spec in SPECS {
        let out = parse_lines(&array, &ParseSpec::from_json(spec).unwrap()).unwrap();
        assert!(views_are_utf8(&out), "{spec}");
        assert_eq!(out.failed, 2, "{spec}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn binary_elements_cut_anywhere_give_valid_strings(
        bytes in loggy_bytes(),
        cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..6),
        which in 0..SPECS.len(),
    ) {
        let mut at: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
        at.extend([0, bytes.len()]);
        at.sort_unstable();
        let array = arrow_array::BinaryArray::from_iter_values(at.windows(2).map(|w| &bytes[w[0]..w[1]]));
        let out = parse_lines(&array, &ParseSpec::from_json(SPECS[which]).unwrap()).unwrap();
        prop_assert_eq!(out.batch.num_rows(), array.len());
        prop_assert!(views_are_utf8(&out));
    }
}

/// Numbers below `n` from a xorshift generator: test data that is the same
/// on every run.
fn xorshift(mut state: u64) -> impl FnMut(usize) -> usize {
    move |n| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    }
}

/// Raw bytes are split a chunk of about 64 KiB at a time: lines, empty lines
/// and every terminator (LF, CRLF, lone CR) come out the same wherever the
/// chunks end, including lines longer than a chunk.
#[test]
fn lines_of_raw_bytes_do_not_depend_on_where_chunks_end() {
    let mut next = xorshift(0x2545_f491_4f6c_dd1d);
    for round in 0..4 {
        let mut bytes = Vec::new();
        let mut want = Vec::new();
        while bytes.len() < 300_000 {
            let len = match next(50) {
                // Not after a lone CR: an empty line ended by LF would make it a CRLF.
                0 if bytes.last() != Some(&b'\r') => 0,
                1 => 70_000 + next(10_000), // longer than a chunk
                _ => 1 + next(120),
            };
            let line: String = (0..len).map(|i| (b'a' + ((i as u64 + round) % 26) as u8) as char).collect();
            bytes.extend_from_slice(line.as_bytes());
            bytes.extend_from_slice(match next(3) {
                0 => &b"\n"[..],
                1 => b"\r\n",
                _ => b"\r",
            });
            want.push(line);
        }
        if round % 2 == 1 {
            bytes.extend_from_slice(b"last line without a terminator");
            want.push("last line without a terminator".to_string());
        }
        assert_eq!(sash_core::parse::split_lines_for_tests(&bytes), want.len());
        let spec = ParseSpec::from_json(r#"{"format": "regex", "pattern": "^(?P<all>.*)$"}"#).unwrap();
        let out = parse_bytes(&Buffer::from(bytes.as_slice()), &spec).unwrap();
        let all = out.batch.column_by_name("all").unwrap().as_string_view();
        let got: Vec<String> =
            (0..all.len()).map(|i| if all.is_null(i) { "<null>".to_string() } else { all.value(i).to_string() }).collect();
        // Empty lines are failed rows (null), the others their text.
        let want: Vec<String> = want.into_iter().map(|l| if l.is_empty() { "<null>".to_string() } else { l }).collect();
        assert_eq!(got.len(), want.len(), "round {round}");
        assert!(got == want, "round {round}: first difference at row {:?}", got.iter().zip(&want).position(|(a, b)| a != b));
    }
}

/// The request's three parts, by the rule docs/parsing.md states: the method
/// ends at the first space; the protocol follows the last space when it
/// starts with `HTTP/`; the path is what lies between (or all after the
/// method). Written out here without the parser's shortcuts.
fn request_parts(req: &str) -> (Option<&str>, Option<&str>, Option<&str>) {
    if req == "-" {
        return (None, None, None);
    }
    let Some(first) = req.find(' ') else {
        return (None, Some(req), None);
    };
    let last = req.rfind(' ').unwrap();
    if last > first && req[last + 1..].starts_with("HTTP/") {
        (Some(&req[..first]), Some(&req[first + 1..last]), Some(&req[last + 1..]))
    } else {
        (Some(&req[..first]), Some(&req[first + 1..]), None)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn requests_split_as_the_rule_says(pieces in prop::collection::vec(prop_oneof![
        Just("GET"), Just("/a/b?c=d"), Just(" "), Just("  "), Just("HTTP/1.1"), Just("HTTP/2.0"), Just("HTTP/1"),
        Just("xHTTP/1.1"), Just("-"), Just("é"), Just("1234567"), Just("12345678"),
    ], 0..8)) {
        let req: String = pieces.concat();
        let line = format!(r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "{req}" 200 1 "-" "-""#);
        let out = parse_lines(&StringArray::from(vec![line.as_str()]), &combined()).unwrap();
        let part = |name: &str| {
            let column = out.batch.column_by_name(name).unwrap().as_string_view();
            column.is_valid(0).then(|| column.value(0).to_string())
        };
        let want = request_parts(&req);
        let got = (part("method"), part("path"), part("protocol"));
        prop_assert_eq!(out.failed, 0);
        prop_assert_eq!((got.0.as_deref(), got.1.as_deref(), got.2.as_deref()), want, "request {:?}", req);
    }
}

/// logfmt without declared fields: each row's map holds its pairs in line
/// order, repeats included, escapes decoded, and the pairs before a failure.
#[test]
fn logfmt_maps_keep_pairs_in_order_up_to_a_failure() {
    let text = b"a=1 a=2 b=\"x \\\"y\\\"\" bare\nk=v q=\"open\nz=1 x\xffy=2 w=3\nok=\"\" n=\"\\x41\"";
    let out = parse_bytes(&Buffer::from(&text[..]), &ParseSpec::from_json(r#"{"format": "logfmt"}"#).unwrap()).unwrap();
    let maps = out.batch.column_by_name("fields").unwrap().as_map();
    let entries = |row: usize| -> Vec<(String, Option<String>)> {
        let entry = maps.value(row);
        let (keys, values) = (entry.column(0).as_string::<i32>(), entry.column(1).as_string::<i32>());
        (0..entry.len()).map(|i| (keys.value(i).to_string(), values.is_valid(i).then(|| values.value(i).to_string()))).collect()
    };
    let pair = |k: &str, v: Option<&str>| (k.to_string(), v.map(str::to_string));
    assert_eq!(entries(0), vec![pair("a", Some("1")), pair("a", Some("2")), pair("b", Some("x \"y\"")), pair("bare", None)]);
    // An unclosed quote: the pair before it stays.
    assert_eq!(entries(1), vec![pair("k", Some("v"))]);
    // Invalid UTF-8 inside a key: the pairs before it stay.
    assert_eq!(entries(2), vec![pair("z", Some("1"))]);
    assert_eq!(entries(3), vec![pair("ok", Some("")), pair("n", Some("A"))]);
    let errors = out.batch.column_by_name("_error").unwrap().as_string::<i32>();
    assert!(errors.is_null(0) && errors.is_null(3));
    assert!(errors.value(1).starts_with("q at byte "), "{}", errors.value(1));
    assert!(errors.value(2).contains("invalid UTF-8"), "{}", errors.value(2));
    assert_eq!((out.parsed, out.failed), (2, 2));
}

/// Raw bytes are split and each line's delimiters found in one pass for the
/// formats that read lines through masks (access logs, logfmt); lines given
/// as array elements are not. Both must give the same rows, whatever the
/// lines hold: escapes, bad bytes, byte order marks, tabs, lines past the
/// 512 bytes the masks hold, every terminator, a last line without one.
#[test]
fn raw_bytes_give_the_rows_their_lines_give_as_elements() {
    let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
    let common = |next: &mut dyn FnMut(usize) -> usize| {
        let path = ["/", "/index.html", "/a/b?c=d&e=f", "-", "/x%20y"][next(5)];
        let request = ["GET {p} HTTP/1.1", "POST {p} HTTP/2.0", "-", "{p}", "GET {p}", "GET  {p} HTTP/1.0"][next(6)].replace("{p}", path);
        format!(
            "{} - {} [{}/Oct/2000:13:{:02}:36 -0700] \"{request}\" {} {}",
            ["127.0.0.1", "::1", "host.example.com"][next(3)],
            ["-", "frank", "a b"][next(3)],
            10 + next(20),
            next(60),
            [200, 404, 500, 99][next(4)],
            ["2326", "-", "0", "123456789", "12345678901234567890"][next(5)],
        )
    };
    let combined = |next: &mut dyn FnMut(usize) -> usize| {
        let agent = ["Mozilla/5.0 (X11; Linux x86_64)", "-", "curl/8.0", ""][next(4)];
        format!("{} \"http://example.com/\" \"{agent}\"", common(next))
    };
    let logfmt = |next: &mut dyn FnMut(usize) -> usize| {
        format!(
            "time=2024-01-{:02}T10:00:00Z level={} msg=\"{}\" path=/p status={} duration={} user={}",
            1 + next(28),
            ["info", "warn", "error"][next(3)],
            ["ok", "a b c", "", "x=y"][next(4)],
            ["200", "abc", "", "-7"][next(4)],
            ["0.25", "1e3", "x"][next(3)],
            ["bob", "\"q\"", "a\tb"][next(3)],
        )
    };
    let damage: [&[u8]; 12] = [b"\\\"", b"\\", "é".as_bytes(), b"\xff", b"\0", b"\t", b" ", b"\"", b"=", b"\xEF\xBB\xBF", b"-", b"\x1b[0m"];
    type Lines<'a> = &'a dyn Fn(&mut dyn FnMut(usize) -> usize) -> String;
    for (spec, lines_of) in [
        (r#"{"format": "combined"}"#, &combined as Lines),
        (r#"{"format": "common"}"#, &common),
        (
            r#"{"format": "logfmt", "fields": {"time": "timestamp", "level": "string", "msg": "string", "path": "string", "status": "int", "duration": "float", "user": "string"}}"#,
            &logfmt,
        ),
    ] {
        let spec = ParseSpec::from_json(spec).unwrap();
        for round in 0..20 {
            let mut lines: Vec<Vec<u8>> = Vec::new();
            for _ in 0..300 {
                let mut line = lines_of(&mut next).into_bytes();
                match next(10) {
                    0..=3 => {}
                    4..=6 => {
                        let at = next(line.len() + 1);
                        line.splice(at..at, damage[next(damage.len())].iter().copied());
                    }
                    7 => line.truncate(next(line.len() + 1)),
                    8 => {
                        // Past the masks' 512 bytes, or just inside them.
                        let at = line.len() - 1;
                        let pad = [400, 480 - line.len().min(480), 600][next(3)];
                        line.splice(at..at, std::iter::repeat_n(b'x', pad));
                    }
                    _ => line.extend_from_slice([&b"  "[..], b"\t", b" trailing"][next(3)]),
                }
                lines.push(line);
            }
            let mut bytes = Vec::new();
            for (i, line) in lines.iter().enumerate() {
                bytes.extend_from_slice(line);
                if i + 1 < lines.len() || round % 2 == 0 {
                    // No lone CR before an empty line: with its LF it would be a CRLF.
                    let lone_cr = lines.get(i + 1).is_some_and(|l| !l.is_empty());
                    bytes.extend_from_slice([&b"\n"[..], b"\r\n", if lone_cr { b"\r" } else { b"\n" }][next(3)]);
                }
            }
            let raw = parse_bytes(&Buffer::from(bytes.as_slice()), &spec).unwrap();
            let elements = parse_lines(&arrow_array::BinaryArray::from_iter_values(&lines), &spec).unwrap();
            assert_eq!(raw.batch.num_rows(), lines.len(), "round {round}");
            assert_eq!((raw.parsed, raw.failed), (elements.parsed, elements.failed), "round {round}");
            for (i, field) in raw.batch.schema().fields().iter().enumerate() {
                let (a, b) = (raw.batch.column(i), elements.batch.column(i));
                if let Some(row) = (0..a.len()).find(|&r| a.slice(r, 1).to_data() != b.slice(r, 1).to_data()) {
                    panic!(
                        "{} of line {:?}: {:?} from raw bytes, {:?} as an element",
                        field.name(),
                        String::from_utf8_lossy(&lines[row]),
                        a.slice(row, 1),
                        b.slice(row, 1)
                    );
                }
            }
            assert!(raw.parsed > 0, "round {round}: no line parsed");
        }
    }
}
