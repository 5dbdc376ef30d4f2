//! The C import of Arrow structs against hostile producers
//! (`cargo fuzz run c_import`): structs built from the fuzz input, with any
//! format string, any lengths, offsets, null counts, buffer and child counts,
//! NULL pointers anywhere and any buffer contents. The import must return an
//! error or an array that passes `validate_full`; it must never panic, abort
//! or read outside the buffers.
//!
//! The C Data Interface does not carry buffer sizes, so a producer that
//! declares more rows than its buffers hold can always make any consumer read
//! past them. The harness therefore gives every buffer room for the largest
//! length it can declare (64 rows at an offset of up to 63, 32 bytes each),
//! and the words of offset and view buffers are kept below 256, so an offset
//! can be wrong (out of order, past the values) but never point outside the
//! pool. What it does not bound is the one lie no consumer can catch.
#![no_main]

use arrow_array::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::Array;
use libfuzzer_sys::fuzz_target;
use std::ffi::{c_char, c_void, CString};
use std::ptr::null_mut;

/// The layout of `struct ArrowSchema` (the C Data Interface's ABI).
#[repr(C)]
struct RawSchema {
    format: *const c_char,
    name: *const c_char,
    metadata: *const c_char,
    flags: i64,
    n_children: i64,
    children: *mut *mut RawSchema,
    dictionary: *mut RawSchema,
    release: Option<unsafe extern "C" fn(*mut RawSchema)>,
    private_data: *mut c_void,
}

/// The layout of `struct ArrowArray`.
#[repr(C)]
struct RawArray {
    length: i64,
    null_count: i64,
    offset: i64,
    n_buffers: i64,
    n_children: i64,
    buffers: *mut *const c_void,
    children: *mut *mut RawArray,
    dictionary: *mut RawArray,
    release: Option<unsafe extern "C" fn(*mut RawArray)>,
    private_data: *mut c_void,
}

// The harness owns all memory; a release only marks the struct released.
unsafe extern "C" fn release_schema(s: *mut RawSchema) {
    unsafe { (*s).release = None };
}
unsafe extern "C" fn release_array(a: *mut RawArray) {
    unsafe { (*a).release = None };
}

/// Formats sash's consumers meet, valid and not; the input may also spell its own.
const FORMATS: &[&str] = &[
    "n", "b", "c", "C", "s", "S", "i", "I", "l", "L", "e", "f", "g", "z", "Z", "u", "U", "vu", "vz", "w:4", "w:16", "w:0",
    "d:10,2", "d:38,10", "d:76,5,256", "tdD", "tdm", "tts", "ttm", "ttu", "ttn", "tss:", "tsm:", "tsu:UTC", "tsn:Europe/Paris",
    "tDs", "tDn", "tiM", "tiD", "tin", "+l", "+L", "+vl", "+vL", "+w:2", "+w:0", "+s", "+m", "+r", "+ud:0,1", "+us:0,1",
    "+ud:", "w:-5", "w:", "+w:-1", "d:", "tsx:", "+ud:0,-1", "+ux:0", "", "+", "t", "ts", "zz", "+l+", "+us:128",
];

/// 64 rows at an offset below 64, 32 bytes each (decimal256), with room to spare.
const POOL: usize = 8192;
const MAX_DEPTH: u32 = 5;

struct Cursor<'a> {
    data: &'a [u8],
}

impl Cursor<'_> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }
}

/// Everything the structs point at, freed after the import returns.
#[derive(Default)]
struct Arena {
    strings: Vec<CString>,
    pools: Vec<Box<[u64]>>,
    buffer_lists: Vec<Box<[*const c_void]>>,
    schemas: Vec<Box<RawSchema>>,
    schema_lists: Vec<Box<[*mut RawSchema]>>,
    arrays: Vec<Box<RawArray>>,
    array_lists: Vec<Box<[*mut RawArray]>>,
}

impl Arena {
    fn string(&mut self, s: &str) -> *const c_char {
        let c = CString::new(s.replace('\0', "")).unwrap();
        let p = c.as_ptr();
        self.strings.push(c);
        p
    }

    /// A buffer of POOL bytes: raw input bytes, or words below 256 (safe
    /// as offsets, view parts and sizes).
    fn pool(&mut self, cur: &mut Cursor, small_words: bool) -> *const c_void {
        let mut words = vec![0u64; POOL / 8].into_boxed_slice();
        let fill = cur.byte() as usize % 64;
        for w in words.iter_mut().take(fill * 2) {
            *w = if small_words {
                u64::from(cur.byte())
            } else {
                u64::from_le_bytes(std::array::from_fn(|_| cur.byte()))
            };
        }
        let p = words.as_ptr() as *const c_void;
        self.pools.push(words);
        p
    }

    fn schema(&mut self, cur: &mut Cursor, depth: u32) -> *mut RawSchema {
        let pick = cur.byte();
        let format = if pick == 255 {
            let len = cur.byte() as usize % 12;
            let text: String = (0..len).map(|_| char::from(cur.byte() % 96 + 32)).collect();
            self.string(&text)
        } else {
            self.string(FORMATS[pick as usize % FORMATS.len()])
        };
        let flags_byte = cur.byte();
        let n_children = if depth >= MAX_DEPTH { 0 } else { i64::from(cur.byte() % 4) };
        let children_ptr = if n_children > 0 && flags_byte & 1 == 0 {
            let list: Box<[*mut RawSchema]> = (0..n_children)
                .map(|_| if cur.byte() == 7 { null_mut() } else { self.schema(cur, depth + 1) })
                .collect();
            let p = list.as_ptr() as *mut *mut RawSchema;
            self.schema_lists.push(list);
            p
        } else {
            null_mut()
        };
        let dictionary = if flags_byte & 2 != 0 && depth < MAX_DEPTH { self.schema(cur, depth + 1) } else { null_mut() };
        let name = if flags_byte & 4 != 0 { std::ptr::null() } else { self.string("c") };
        let mut schema = Box::new(RawSchema {
            format: if flags_byte & 8 != 0 && flags_byte & 16 != 0 { std::ptr::null() } else { format },
            name,
            metadata: std::ptr::null(),
            flags: i64::from(flags_byte >> 5 & 0b11),
            n_children,
            children: children_ptr,
            dictionary,
            release: Some(release_schema),
            private_data: null_mut(),
        });
        let p = &mut *schema as *mut RawSchema;
        self.schemas.push(schema);
        p
    }

    fn array(&mut self, cur: &mut Cursor, depth: u32) -> *mut RawArray {
        let shape = cur.byte();
        let length = i64::from(cur.byte() % 64) - i64::from(shape == 0xFF);
        let offset = i64::from(cur.byte() % 64);
        let null_count = i64::from(cur.byte() % 66) - 1;
        let n_buffers = i64::from(cur.byte() % 5);
        let buffers: Box<[*const c_void]> = (0..n_buffers)
            .map(|i| {
                let kind = cur.byte();
                if kind % 8 == 0 {
                    std::ptr::null()
                } else {
                    // Buffer 0 is a validity bitmap or union type ids, where
                    // any bits do; the others may be offsets, views or sizes,
                    // whose words must stay small.
                    self.pool(cur, i > 0 || kind % 2 == 1)
                }
            })
            .collect();
        let buffers_ptr = if n_buffers > 0 && shape & 2 == 0 { buffers.as_ptr() as *mut *const c_void } else { null_mut() };
        self.buffer_lists.push(buffers);
        let n_children = if depth >= MAX_DEPTH { 0 } else { i64::from(cur.byte() % 4) };
        let children_ptr = if n_children > 0 && shape & 4 == 0 {
            let list: Box<[*mut RawArray]> = (0..n_children)
                .map(|_| if cur.byte() == 7 { null_mut() } else { self.array(cur, depth + 1) })
                .collect();
            let p = list.as_ptr() as *mut *mut RawArray;
            self.array_lists.push(list);
            p
        } else {
            null_mut()
        };
        let dictionary = if shape & 8 != 0 && depth < MAX_DEPTH { self.array(cur, depth + 1) } else { null_mut() };
        let mut array = Box::new(RawArray {
            length,
            null_count,
            offset,
            n_buffers,
            n_children,
            buffers: buffers_ptr,
            children: children_ptr,
            dictionary,
            release: if shape & 0x30 == 0x30 { None } else { Some(release_array) },
            private_data: null_mut(),
        });
        let p = &mut *array as *mut RawArray;
        self.arrays.push(array);
        p
    }
}

fuzz_target!(|data: &[u8]| {
    let mut cur = Cursor { data };
    let mut arena = Arena::default();
    let schema = arena.schema(&mut cur, 0);
    let array = arena.array(&mut cur, 0);
    let as_batch = cur.byte() % 2 == 0;
    // SAFETY: RawSchema and RawArray have the C Data Interface's layout,
    // which arrow-rs's FFI structs have too; the harness's release callbacks
    // stay valid until the arena drops, after both structs are released.
    let schema: FFI_ArrowSchema = unsafe { std::ptr::read(schema as *const FFI_ArrowSchema) };
    let array: FFI_ArrowArray = unsafe { std::ptr::read(array as *const FFI_ArrowArray) };
    if as_batch {
        if let Ok((_, batch)) = sash_ffi::import::import_batch(array, &schema) {
            for column in batch.columns() {
                column.to_data().validate_full().expect("an imported column is valid");
            }
        }
    } else if let Ok((imported, _)) = sash_ffi::import::import(array, &schema) {
        imported.to_data().validate_full().expect("an imported array is valid");
    }
    drop(schema);
    drop(arena);
});
