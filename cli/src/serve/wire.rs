//! The bytes of `docs/protocol.md`: JSON frames, and Arrow IPC streams read
//! message by message under limits. Nothing here knows the operations; it
//! only reads what a hostile peer may send without trusting a length it
//! declares (memory grows with the bytes that arrive, never with a claim).

use arrow_array::{ArrayRef, RecordBatch};
use arrow_buffer::Buffer;
use arrow_ipc::MessageHeader;
use arrow_schema::SchemaRef;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::sync::Arc;

/// The first bytes of every frame.
pub const MAGIC: &[u8; 4] = b"SASH";
/// The largest JSON of a frame.
pub const MAX_FRAME_BYTES: usize = 1 << 20;
/// The largest flatbuffer header of one IPC message (a schema of many
/// thousand columns fits; a header is never data).
pub const MAX_METADATA_BYTES: usize = 64 << 20;
/// The default largest body of one IPC message (`--max-message-bytes`).
pub const DEFAULT_MAX_MESSAGE_BYTES: u64 = 1 << 30;

const CONTINUATION: [u8; 4] = [0xFF; 4];
/// The part of a declared IPC body reserved before its bytes arrive.
const TRUSTED_BODY_BYTES: u64 = 64 << 20;

/// Why the bytes on the wire cannot be read as the protocol says; the
/// connection cannot go on after it (where the next request starts is unknown).
#[derive(Debug)]
pub struct WireError {
    /// `protocol`, `resource_limit` (a declared size over a limit), or
    /// `gone` (the peer closed, a read timed out: no one to answer).
    pub kind: &'static str,
    pub message: String,
}

impl WireError {
    pub fn protocol(message: impl Into<String>) -> WireError {
        WireError { kind: "protocol", message: message.into() }
    }

    fn io(e: io::Error, what: &str) -> WireError {
        match e.kind() {
            io::ErrorKind::UnexpectedEof => WireError::protocol(format!("the connection ended in the middle of {what}")),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                WireError { kind: "gone", message: format!("no byte of {what} arrived within the timeout") }
            }
            _ => WireError { kind: "gone", message: format!("reading {what}: {e}") },
        }
    }
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Reads one frame. `Ok(None)`: the peer closed the connection before its
/// first byte (the clean end of a connection).
pub fn read_frame(reader: &mut impl Read) -> Result<Option<Map<String, Value>>, WireError> {
    let mut head = [0u8; 8];
    let mut got = 0;
    while got < head.len() {
        match reader.read(&mut head[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(WireError::protocol("the connection ended in the middle of a frame's header")),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(WireError::io(e, "a frame")),
        }
    }
    if &head[..4] != MAGIC {
        return Err(WireError::protocol(format!(
            "not a sash frame: it starts with {:?}, not \"SASH\" (docs/protocol.md)",
            String::from_utf8_lossy(&head[..4])
        )));
    }
    let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
    if len > MAX_FRAME_BYTES {
        return Err(WireError::protocol(format!("a frame of {len} bytes: the limit is {MAX_FRAME_BYTES}")));
    }
    let mut json = vec![0u8; len];
    reader.read_exact(&mut json).map_err(|e| WireError::io(e, "a frame"))?;
    match serde_json::from_slice::<Value>(&json) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(other) => Err(WireError::protocol(format!("a frame must hold a JSON object, not {other}"))),
        Err(e) => Err(WireError::protocol(format!("a frame is not JSON: {e}"))),
    }
}

/// Writes one frame (not flushed).
pub fn write_frame(writer: &mut impl Write, value: &Value) -> io::Result<()> {
    let json = serde_json::to_vec(value).map_err(io::Error::other)?;
    writer.write_all(MAGIC)?;
    writer.write_all(&(json.len() as u32).to_le_bytes())?;
    writer.write_all(&json)
}

/// One Arrow IPC stream of a request, read from `reader` message by message
/// as the batches are asked for. Its schema is read at the first use.
#[derive(Debug)]
pub struct IpcInput<R> {
    reader: R,
    schema: Option<SchemaRef>,
    dictionaries: HashMap<i64, ArrayRef>,
    max_message_bytes: u64,
    state: InputState,
}

#[derive(Debug, PartialEq)]
enum InputState {
    Unread,
    Open,
    /// The end-of-stream marker was read: the next request follows.
    Ended,
    /// The stream could not be read: the connection cannot go on.
    Broken,
}

impl<R: Read> IpcInput<R> {
    pub fn new(reader: R, max_message_bytes: u64) -> IpcInput<R> {
        IpcInput { reader, schema: None, dictionaries: HashMap::new(), max_message_bytes, state: InputState::Unread }
    }

    /// Whether a read failed: what followed cannot be found.
    pub fn is_broken(&self) -> bool {
        self.state == InputState::Broken
    }

    /// The stream's schema (read if it was not yet).
    pub fn schema(&mut self) -> Result<SchemaRef, WireError> {
        if self.state == InputState::Unread {
            self.state = InputState::Open;
            while self.schema.is_none() {
                match self.guarded(Self::message)? {
                    Some(_) => return Err(self.broken("an IPC stream must start with its schema, not a record batch")),
                    None if self.state == InputState::Ended => {
                        return Err(self.broken("the IPC stream ended before its schema"));
                    }
                    None => {}
                }
            }
        }
        self.schema.clone().ok_or_else(|| WireError::protocol("the IPC stream could not be read"))
    }

    /// The next record batch, or `None` after the end-of-stream marker.
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>, WireError> {
        self.schema()?;
        while self.state == InputState::Open {
            if let Some(batch) = self.guarded(Self::message)? {
                return Ok(Some(batch));
            }
        }
        match self.state {
            InputState::Broken => Err(WireError::protocol("the IPC stream could not be read")),
            _ => Ok(None),
        }
    }

    /// Reads the rest of the stream, keeping nothing, so that the next
    /// request can be read.
    pub fn drain(&mut self) -> Result<(), WireError> {
        while self.next_batch()?.is_some() {}
        Ok(())
    }

    fn broken(&mut self, message: impl Into<String>) -> WireError {
        self.state = InputState::Broken;
        WireError::protocol(message)
    }

    fn guarded<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, WireError>) -> Result<T, WireError> {
        let result = f(self);
        if result.is_err() {
            self.state = InputState::Broken;
        }
        result
    }

    /// Reads one message and hands it to the decoder: a batch, or `None`
    /// for a schema, a dictionary or the end of the stream.
    fn message(&mut self) -> Result<Option<RecordBatch>, WireError> {
        let mut word = [0u8; 4];
        self.reader.read_exact(&mut word).map_err(|e| WireError::io(e, "an IPC message"))?;
        if word == CONTINUATION {
            self.reader.read_exact(&mut word).map_err(|e| WireError::io(e, "an IPC message"))?;
        }
        let len = u32::from_le_bytes(word) as usize;
        if len == 0 {
            self.state = InputState::Ended;
            return Ok(None);
        }
        if len > MAX_METADATA_BYTES {
            return Err(WireError::protocol(format!("an IPC message header of {len} bytes: the limit is {MAX_METADATA_BYTES}")));
        }
        let mut metadata = Vec::new();
        (&mut self.reader).take(len as u64).read_to_end(&mut metadata).map_err(|e| WireError::io(e, "an IPC message"))?;
        if metadata.len() != len {
            return Err(WireError::protocol("the connection ended in the middle of an IPC message header"));
        }
        let message = arrow_ipc::root_as_message(&metadata)
            .map_err(|e| WireError::protocol(format!("an IPC message header is not a valid flatbuffer: {e}")))?;
        let body_len = message.bodyLength();
        if body_len < 0 {
            return Err(WireError::protocol(format!("an IPC message declares a body of {body_len} bytes")));
        }
        let body_len = body_len as u64;
        if body_len > self.max_message_bytes {
            return Err(WireError {
                kind: "resource_limit",
                message: format!(
                    "resource limit: an IPC message of {body_len} bytes, over the server's --max-message-bytes of {} \
                     (split the input into smaller batches)",
                    self.max_message_bytes
                ),
            });
        }
        // Reserved up to a bound and grown as the bytes arrive beyond it: a
        // body declared and never sent costs untouched address space only.
        let mut body = Vec::with_capacity(body_len.min(TRUSTED_BODY_BYTES) as usize);
        (&mut self.reader).take(body_len).read_to_end(&mut body).map_err(|e| WireError::io(e, "an IPC message body"))?;
        if body.len() as u64 != body_len {
            return Err(WireError::protocol("the connection ended in the middle of an IPC message body"));
        }
        // The batch keeps its body: not twice its size after doubling.
        if body.capacity() > body.len() + body.len() / 8 {
            body.shrink_to_fit();
        }
        let body = Buffer::from_vec(body);
        let invalid = |e: arrow_schema::ArrowError| WireError::protocol(format!("invalid IPC stream: {e}"));
        let version = message.version();
        match message.header_type() {
            MessageHeader::Schema => {
                if self.schema.is_some() {
                    return Err(WireError::protocol("invalid IPC stream: a second schema message"));
                }
                let fb = message.header_as_schema().ok_or_else(|| WireError::protocol("invalid IPC stream: an empty schema message"))?;
                let schema = guard("schema", || arrow_ipc::convert::fb_to_schema(fb))?;
                self.schema = Some(Arc::new(schema));
                Ok(None)
            }
            MessageHeader::RecordBatch => {
                let schema =
                    self.schema.clone().ok_or_else(|| WireError::protocol("invalid IPC stream: a record batch before the schema"))?;
                let fb = message
                    .header_as_record_batch()
                    .ok_or_else(|| WireError::protocol("invalid IPC stream: an empty record batch message"))?;
                let dictionaries = &self.dictionaries;
                let batch =
                    guard("record batch", || arrow_ipc::reader::read_record_batch(&body, fb, schema, dictionaries, None, &version))?
                        .map_err(invalid)?;
                Ok(Some(batch))
            }
            MessageHeader::DictionaryBatch => {
                let schema =
                    self.schema.clone().ok_or_else(|| WireError::protocol("invalid IPC stream: a dictionary before the schema"))?;
                let fb = message
                    .header_as_dictionary_batch()
                    .ok_or_else(|| WireError::protocol("invalid IPC stream: an empty dictionary message"))?;
                let dictionaries = &mut self.dictionaries;
                guard("dictionary", || arrow_ipc::reader::read_dictionary(&body, fb, &schema, dictionaries, &version))?.map_err(invalid)?;
                Ok(None)
            }
            other => Err(WireError::protocol(format!("invalid IPC stream: a {other:?} message"))),
        }
    }
}

/// Runs one of arrow-ipc's decoders, which panic on some malformed
/// flatbuffers (a schema without fields, an unknown type): a protocol error.
fn guard<T>(what: &str, decode: impl FnOnce() -> T) -> Result<T, WireError> {
    sash_ffi::panic::catch(decode).map_err(|_| WireError::protocol(format!("invalid IPC stream: a malformed {what} message")))
}

/// Whether an operation's request carries an IPC stream (docs/protocol.md).
pub fn takes_input(op: &str, header: &Map<String, Value>) -> bool {
    match op {
        "window_agg" | "rolling" | "parse" | "push" | "restore" => true,
        "advance" => !header.contains_key("watermark"),
        _ => false,
    }
}

/// Reads every request in `bytes` as the server does, without running
/// them: the request decoder's fuzz target. Returns how many were read
/// whole, or the first error.
pub fn decode_requests(bytes: &[u8]) -> Result<usize, WireError> {
    let mut reader = bytes;
    let mut count = 0;
    while let Some(header) = read_frame(&mut reader)? {
        let op = header.get("op").and_then(Value::as_str).unwrap_or("");
        if takes_input(op, &header) {
            let mut input = IpcInput::new(&mut reader, DEFAULT_MAX_MESSAGE_BYTES);
            input.schema()?;
            while let Some(batch) = input.next_batch()? {
                // What the operations do first with a batch: look at every column.
                for column in batch.columns() {
                    let _ = column.to_data().validate_full();
                }
            }
        }
        count += 1;
    }
    Ok(count)
}
