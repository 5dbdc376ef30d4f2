//! `ParseReader`: parsing a byte stream (a file, a socket, a gzip) in
//! chunks of lines, with bounded memory and decompression.

use super::lines::split_lines;
use super::*;

/// The first two bytes of every gzip stream (RFC 1952).
pub(super) const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Whether `bytes` begin as a gzip stream does. No log line can: 0x8b is
/// not a byte UTF-8 text starts a character with.
pub(super) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

#[cold]
pub(super) fn gzip_error(e: &std::io::Error) -> SashError {
    SashError::InvalidInput(gzip_message(e))
}

pub(super) fn gzip_message(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        "the gzip-compressed log ends in the middle of its compressed data (a truncated .gz file?)".into()
    } else {
        format!("the gzip-compressed log is corrupt: {e}")
    }
}

/// A stream as `ParseReader` reads it: plain text, or gzip decompressed on
/// the fly, told apart by the first two bytes (kept in front of the rest).
#[derive(Debug)]
pub(super) enum Source<R: Read> {
    Unread(R),
    Text(std::io::Chain<std::io::Cursor<Vec<u8>>, R>),
    Gzip(Box<flate2::read::MultiGzDecoder<std::io::Chain<std::io::Cursor<Vec<u8>>, R>>>),
    /// Only while `Unread` turns into one of the others.
    Taken,
}

impl<R: Read> Source<R> {
    pub(super) fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Source::Unread(_) = self {
            let Source::Unread(mut reader) = std::mem::replace(self, Source::Taken) else { unreachable!() };
            let mut head = Vec::with_capacity(GZIP_MAGIC.len());
            let sniffed = (&mut reader).take(GZIP_MAGIC.len() as u64).read_to_end(&mut head);
            let rest = std::io::Cursor::new(head).chain(reader);
            let gzip = is_gzip(rest.get_ref().0.get_ref());
            *self = if gzip { Source::Gzip(Box::new(flate2::read::MultiGzDecoder::new(rest))) } else { Source::Text(rest) };
            sniffed?;
        }
        match self {
            Source::Text(reader) => reader.read(buf),
            Source::Gzip(reader) => reader.read(buf).map_err(|e| std::io::Error::new(e.kind(), gzip_message(&e))),
            Source::Unread(_) | Source::Taken => unreachable!("the stream is sniffed above"),
        }
    }
}

/// Parses a stream (a file, a socket) in chunks of about `chunk_bytes`,
/// yielding one batch per chunk: memory stays bounded by the chunk size
/// whatever the stream's length (a line longer than a chunk grows that chunk,
/// up to the spec's `max_line_bytes`; of a longer line only that much is kept).
/// A gzip stream (several members too, as `cat a.gz b.gz` makes) is
/// decompressed as it is read.
///
/// When reading fails part way (a truncated .gz file, an I/O error), the
/// complete lines read until then are still yielded, as the last batch, and
/// the error comes after them, saying how many bytes of a line cut short it
/// left unparsed.
#[derive(Debug)]
pub struct ParseReader<R: Read> {
    pub(super) reader: Source<R>,
    pub(super) parser: Parser,
    pub(super) chunk_bytes: usize,
    /// The unfinished last line of the previous chunk.
    pub(super) carry: Vec<u8>,
    /// A read error held back until the lines read before it are yielded.
    pub(super) failed: Option<SashError>,
    /// A chunk read but not parsed, as its parse was cancelled: parsed first
    /// when the reader is read again.
    pub(super) unparsed: Option<Buffer>,
    pub(super) done: bool,
    /// Bytes of the (decompressed) stream before the next chunk's first byte.
    pub(super) position: u64,
    /// Where the chunk being read or parsed came from (`next_chunk` fills
    /// it; `Iterator::next` hands it to `last` once the chunk parsed).
    pub(super) pending: Option<ChunkSource>,
    pub(super) last: Option<ChunkSource>,
    /// Bytes of an over-long line read past so far, for the chunk being read.
    pub(super) skipped: u64,
    /// The memory of a chunk whose batch was dropped, read into again: a
    /// fresh chunk's pages would each be faulted in anew.
    pub(super) spare: Option<Vec<u8>>,
    /// A read error that came after some bytes of a read: reported by the
    /// next read, once those bytes are taken.
    pub(super) held_error: Option<std::io::Error>,
}

/// Where the lines of one batch of a [`ParseReader`] came from: the text
/// they were parsed from, its place in the stream, and the number of its
/// first line. Error reports use it to name each failed line's number and
/// byte offset (and to quote it); nothing is copied to keep it, the batch's
/// strings point into the same buffer.
#[derive(Debug, Clone)]
pub struct ChunkSource {
    /// The lines, as parsed (decompressed; of a line longer than
    /// `max_line_bytes`, the part that was kept).
    pub text: Buffer,
    /// The 1-based number of the first line, counted across the reader's batches.
    pub first_line: u64,
    /// The byte offset of `text` in the stream (the decompressed stream of a
    /// gzip input).
    pub offset: u64,
    /// A line longer than `max_line_bytes` opened this chunk: this many of
    /// its bytes after `max_line_bytes + 1` were read past, not kept.
    pub(super) skipped: u64,
    /// With multi-line records: how lines group, and whether the chunk goes
    /// on a record that ran past the limits.
    pub(super) records: Option<(super::records::Records, bool)>,
}

/// Where one output row's text came from: its first line's number and byte
/// offset in the input, and its bytes in the chunk's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowSource {
    pub line: u64,
    pub offset: u64,
    pub span: std::ops::Range<usize>,
}

impl ChunkSource {
    /// The source of lines a caller read itself (a log it follows) and
    /// parsed with [`Parser::parse_bytes`]: `text` whole, from `offset`.
    pub fn new(text: Buffer, first_line: u64, offset: u64) -> ChunkSource {
        ChunkSource { text, first_line, offset, skipped: 0, records: None }
    }

    /// One entry per row of the chunk's output, in order: each line's, or
    /// with multi-line records each record's (its first line's number and
    /// offset, and all of its bytes).
    pub fn rows(&self) -> Vec<RowSource> {
        let lines = self.lines();
        let Some((records, continuing)) = &self.records else {
            return lines
                .into_iter()
                .enumerate()
                .map(|(i, (offset, span))| RowSource { line: self.first_line + i as u64, offset, span })
                .collect();
        };
        let spans: Vec<(usize, usize)> = lines.iter().map(|(_, span)| (span.start, span.end)).collect();
        let (records, skipped, _) = records.split(self.text.as_slice(), &spans, *continuing);
        let mut line = self.first_line + skipped;
        let mut index = skipped as usize;
        records
            .iter()
            .map(|record| {
                let row = RowSource { line, offset: lines[index].0, span: record.start..record.end };
                line += record.lines;
                index += record.lines as usize;
                row
            })
            .collect()
    }

    /// The byte offset in the stream where each line of the chunk starts,
    /// one per row of its batch (without multi-line records), and its span in `text`.
    pub fn lines(&self) -> Vec<(u64, std::ops::Range<usize>)> {
        split_lines(self.text.as_slice())
            .into_iter()
            .map(|(start, end)| {
                let read_past = if start > 0 { self.skipped } else { 0 };
                (self.offset + start as u64 + read_past, start..end)
            })
            .collect()
    }
}

/// Why [`ParseReader::read_more`] read nothing.
pub(super) enum ReadStop {
    Io(std::io::Error),
    Cancelled,
}

/// The default chunk size of [`ParseReader`].
pub const DEFAULT_CHUNK_BYTES: usize = 16 << 20;

impl<R: Read> ParseReader<R> {
    pub fn new(reader: R, spec: &ParseSpec) -> Result<ParseReader<R>> {
        Ok(ParseReader {
            reader: Source::Unread(reader),
            parser: Parser::new(spec)?,
            chunk_bytes: DEFAULT_CHUNK_BYTES,
            carry: Vec::new(),
            failed: None,
            unparsed: None,
            done: false,
            position: 0,
            pending: None,
            last: None,
            skipped: 0,
            spare: None,
            held_error: None,
        })
    }

    /// Where the lines of the batch the reader yielded last came from (None
    /// before the first batch).
    pub fn last_chunk(&self) -> Option<&ChunkSource> {
        self.last.as_ref()
    }

    pub fn with_chunk_bytes(mut self, chunk_bytes: usize) -> Self {
        self.chunk_bytes = chunk_bytes.max(1);
        self
    }

    pub fn schema(&self) -> SchemaRef {
        self.parser.schema()
    }

    /// Reads into `buf` until it holds `want` bytes or the stream ends,
    /// growing it (zero-filled once per call: a source that returns a few
    /// bytes per read, as pipes and sockets do, must not cost a fill of the
    /// whole chunk per read); interrupted reads are retried unless the
    /// caller cancelled the call. Ok(0) is the end of the stream.
    pub(super) fn read_more(&mut self, buf: &mut Vec<u8>, want: usize) -> Result<usize, ReadStop> {
        crate::exec::cancel::check().map_err(|_| ReadStop::Cancelled)?;
        if let Some(e) = self.held_error.take() {
            return Err(ReadStop::Io(e));
        }
        let len = buf.len();
        buf.resize(want.max(len + 1), 0);
        let mut filled = len;
        loop {
            match self.reader.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => {
                    filled += n;
                    if filled == buf.len() || crate::exec::cancel::is_cancelled() {
                        break;
                    }
                }
                // A signal (Ctrl-C among them), not the end: read again.
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                    if crate::exec::cancel::is_cancelled() {
                        if filled > len {
                            break;
                        }
                        buf.truncate(len);
                        return Err(ReadStop::Cancelled);
                    }
                }
                // What was read before the error is taken first; the
                // error is the next read's.
                Err(e) if filled > len => {
                    self.held_error = Some(e);
                    break;
                }
                Err(e) => {
                    buf.truncate(len);
                    return Err(ReadStop::Io(e));
                }
            }
        }
        buf.truncate(filled);
        Ok(filled - len)
    }

    /// Gives up after a read error: the complete lines of `buf` are the last
    /// chunk, and the error, saying how much of a line it cut short, follows.
    pub(super) fn fail(&mut self, e: &std::io::Error, mut buf: Vec<u8>, cut_short: usize) -> Result<Option<Buffer>> {
        let complete = memchr::memrchr2(b'\n', b'\r', &buf).map_or(0, |i| i + 1);
        let unparsed = buf.len() - complete + cut_short;
        let mut message = format!("reading the log: {e}");
        if unparsed > 0 {
            message += &format!("; the {unparsed} bytes after the last complete line were not parsed");
        }
        buf.truncate(complete);
        self.failed = Some(SashError::InvalidInput(message));
        self.done = true;
        Ok((!buf.is_empty()).then(|| Buffer::from_vec(buf)))
    }

    /// The next chunk of complete lines, with where it came from in `pending`.
    pub(super) fn next_chunk(&mut self) -> Result<Option<Buffer>> {
        let chunk = self.read_chunk()?;
        if let Some(text) = &chunk {
            let skipped = self.skipped;
            self.skipped = 0;
            let offset = self.position;
            self.position += text.len() as u64 + skipped;
            let records = self.parser.spec.records.clone().map(|r| (r, self.parser.runaway));
            self.pending = Some(ChunkSource { text: text.clone(), first_line: 0, offset, skipped, records });
        }
        Ok(chunk)
    }

    fn read_chunk(&mut self) -> Result<Option<Buffer>> {
        if self.done {
            return Ok(None);
        }
        let max_line = self.parser.spec.max_line_bytes;
        let mut buf = match self.spare.take() {
            Some(mut spare) => {
                spare.clear();
                spare.extend_from_slice(&self.carry);
                self.carry.clear();
                spare
            }
            None => std::mem::take(&mut self.carry),
        };
        let mut want = self.chunk_bytes.max(buf.len() + 1);
        loop {
            while buf.len() < want {
                match self.read_more(&mut buf, want) {
                    Ok(0) => {
                        self.done = true;
                        return Ok((!buf.is_empty()).then(|| Buffer::from_vec(buf)));
                    }
                    Ok(_) => {}
                    Err(ReadStop::Cancelled) => {
                        self.carry = buf;
                        return Err(SashError::Cancelled);
                    }
                    Err(ReadStop::Io(e)) => return self.fail(&e, buf, 0),
                }
            }
            // End the chunk after its last complete line. A CR as the very last
            // byte may be the first half of a CRLF: it waits for the next chunk.
            let search = if buf.last() == Some(&b'\r') { &buf[..buf.len() - 1] } else { &buf[..] };
            if let Some(i) = memchr::memrchr2(b'\n', b'\r', search) {
                if let Some(records) = &self.parser.spec.records {
                    // The last record may go on in the bytes not read yet:
                    // it waits for the next chunk, which then starts with it.
                    let complete = &buf[..i + 1];
                    let lines = split_lines(complete);
                    match records.last_start(complete, &lines) {
                        Some(start) => {
                            self.carry = buf[start..].to_vec();
                            buf.truncate(start);
                            return Ok(Some(Buffer::from_vec(buf)));
                        }
                        // One record so far, past the limits already: the
                        // parser fails it and reads past its further lines.
                        None if records.past_limits(&lines) => self.parser.cut_record = true,
                        // Within them, and so is the line being read: read on.
                        None if buf.len() - complete.len() <= records.max_bytes => {
                            want = (buf.len() * 2).max(buf.len() + self.chunk_bytes);
                            continue;
                        }
                        // The line being read is longer than a record may be:
                        // it begins a record (the one so far is complete) or
                        // makes the one so far run past the limits.
                        None => {
                            let tail = &buf[complete.len()..];
                            if !records.tail_starts(complete, &lines, tail) {
                                self.parser.cut_record = true;
                            }
                        }
                    }
                }
                self.carry = buf[i + 1..].to_vec();
                buf.truncate(i + 1);
                return Ok(Some(Buffer::from_vec(buf)));
            }
            // No line ends in this chunk: `buf` is one line so far.
            if buf.len() > max_line + 1 {
                // Too long to parse: its first max_line + 1 bytes are kept
                // (the parser reports a line that long) and the rest is read
                // past, not kept, so a file without line ends cannot take
                // all memory.
                let mut rest = buf.split_off(max_line + 1);
                let mut skipped = 0;
                loop {
                    if let Some(i) = memchr::memchr2(b'\n', b'\r', &rest) {
                        self.skipped += i as u64;
                        buf.extend_from_slice(&rest[i..]);
                        break;
                    }
                    skipped += rest.len();
                    self.skipped += rest.len() as u64;
                    rest.clear();
                    match self.read_more(&mut rest, self.chunk_bytes.min(1 << 20)) {
                        Ok(0) => break,
                        Ok(_) => {}
                        // What is kept of the line stays; its rest is read past
                        // when reading goes on, as it would have been.
                        Err(ReadStop::Cancelled) => {
                            self.carry = buf;
                            return Err(SashError::Cancelled);
                        }
                        Err(ReadStop::Io(e)) => return self.fail(&e, buf, skipped),
                    }
                }
                want = self.chunk_bytes.max(buf.len() + 1);
                if buf.len() == max_line + 1 {
                    // The stream ended inside the line.
                    self.done = true;
                    return Ok(Some(Buffer::from_vec(buf)));
                }
                continue;
            }
            // Read more, up to a little past the longest line allowed.
            want = (buf.len() * 2).min(max_line + 2).max(buf.len() + 1);
        }
    }
}

impl<R: Read> Iterator for ParseReader<R> {
    type Item = Result<ParseOutput>;

    fn next(&mut self) -> Option<Self::Item> {
        // The last chunk's memory is free once nothing points into it (its
        // batch, or the strings viewing it, dropped).
        if self.unparsed.is_none() {
            if let Some(last) = self.last.take() {
                self.spare = last.text.into_vec::<u8>().ok();
            }
        }
        let chunk = match self.unparsed.take() {
            Some(chunk) => Ok(Some(chunk)),
            None => self.next_chunk(),
        };
        match chunk {
            Ok(Some(chunk)) => {
                let first_line = self.parser.next_line;
                match self.parser.parse_text(&chunk) {
                    Err(SashError::Cancelled) => {
                        self.unparsed = Some(chunk);
                        Some(Err(SashError::Cancelled))
                    }
                    result => {
                        self.last = self.pending.take().map(|source| ChunkSource { first_line, ..source });
                        Some(result)
                    }
                }
            }
            Ok(None) => self.failed.take().map(Err),
            // Cancelled while reading: what was read is kept, reading goes on.
            Err(SashError::Cancelled) => Some(Err(SashError::Cancelled)),
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
