//! `cri` and `docker`: the logs container runtimes write for each container
//! (Kubernetes' `/var/log/pods/...`, Docker's json-file driver), with the
//! application's own line parsed by another format in the same call
//! (`inner`), or kept whole in `message`.
//!
//! CRI: `2016-10-06T00:17:09.669794202Z stdout F message`, where `P` marks a
//! line the runtime split and the next line goes on with. Docker:
//! `{"log":"message\n","stream":"stdout","time":"..."}`, where a `log`
//! without its newline goes on in the next entry. Partial lines are joined
//! into one record (`records.rs`); this parser then sees every record as one
//! CRI line (`parse/mod.rs` rewrites Docker entries and joined records so),
//! and a single CRI line without a copy.

use crate::parse::fields::excerpt;
use crate::parse::row::{Columns, Cut, Failure, LineCtx, Parsed};
use crate::parse::spec::{timestamp_type, StringOutput};
use crate::parse::time::{parse_iso8601, TsCache, Zone};
use crate::parse::LineParser;
use arrow_schema::Field;

/// The inner format writes its columns first, as it would alone (its
/// column numbers unchanged, nothing added to the hot path of every format);
/// time and stream follow, and are shown first ([`LineParser::output_order`]).
#[derive(Debug)]
pub(crate) struct ContainerParser {
    inner: Option<Box<dyn LineParser>>,
    /// Columns of the inner format (1 for `message`).
    width: usize,
    cache: TsCache,
    zone: Zone,
}

impl ContainerParser {
    pub(crate) fn new(inner: Option<Box<dyn LineParser>>, zone: Zone) -> ContainerParser {
        let width = inner.as_ref().map_or(1, |p| p.fields(StringOutput::View).len());
        ContainerParser { inner, width, cache: TsCache::default(), zone }
    }
}

/// Where a CRI line's fields are: (end of time, end of stream, start of message).
pub(crate) fn cri_fields(b: &[u8]) -> Result<(usize, usize, usize), Failure> {
    let time_end = memchr::memchr(b' ', b).ok_or_else(|| Failure::new("time", b.len(), "missing: the line ends after the time"))?;
    let stream_end = memchr::memchr(b' ', &b[time_end + 1..])
        .map(|i| time_end + 1 + i)
        .ok_or_else(|| Failure::new("stream", b.len(), "missing: the line ends after the stream"))?;
    let tag = &b[stream_end + 1..];
    let tag_len = memchr::memchr(b' ', tag).unwrap_or(tag.len());
    if !matches!(&tag[..tag_len], b"F" | b"P") {
        return Err(Failure::new("tag", stream_end + 1, format!("expected F or P, found '{}'", excerpt(&tag[..tag_len]))));
    }
    Ok((time_end, stream_end, (stream_end + 2 + tag_len).min(b.len())))
}

impl LineParser for ContainerParser {
    fn fields(&self, strings: StringOutput) -> Vec<Field> {
        let mut fields = match &self.inner {
            Some(inner) => inner.fields(strings),
            None => vec![Field::new("message", strings.data_type(), true)],
        };
        fields.push(Field::new("time", timestamp_type(), true));
        fields.push(Field::new("stream", strings.data_type(), true));
        fields
    }

    fn output_order(&self) -> Option<Vec<usize>> {
        Some([self.width, self.width + 1].into_iter().chain(0..self.width).collect())
    }

    fn parse(&mut self, ctx: &LineCtx, cols: &mut Columns) -> Parsed {
        let b = ctx.bytes;
        let (time_end, stream_end, message) = cri_fields(b)?;
        let zone = self.zone;
        let time = self
            .cache
            .get_or(&b[..time_end], |t| parse_iso8601(t, zone))
            .map_err(|why| Failure::new("time", 0, format!("bad timestamp '{}': {why}", excerpt(&b[..time_end]))))?;
        let (time_col, stream_col) = (self.width, self.width + 1);
        cols.ts(time_col).push(time);
        ctx.check_cut("stream", stream_end)?;
        let stream = ctx.view(time_end + 1, stream_end);
        let Some(inner) = &mut self.inner else {
            cols.str(stream_col).push_view(stream);
            cols.str(0).push_view(ctx.view(message, b.len()));
            return Ok(());
        };
        // The message is a line of the inner format, its bytes where they are.
        ctx.check_cut("tag", message)?;
        let cut = ctx.cut.map(|c| Cut { at: c.at - message, ..c });
        let inner_ctx = LineCtx { bytes: &b[message..], offset: ctx.offset + message as u32, cut, masks: None, ..*ctx };
        // A format may drop what it wrote of a row and write it again
        // (`Columns::restart_row`): time goes in after it, whatever it did.
        let result = inner.parse(&inner_ctx, cols);
        if !cols.is_set(time_col) {
            cols.ts(time_col).push(time);
        }
        cols.str(stream_col).push_view(stream);
        result.map_err(|mut failure| {
            failure.offset += message;
            failure
        })
    }
}
