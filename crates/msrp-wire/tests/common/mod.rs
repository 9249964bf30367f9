//! Helpers shared by the integration tests.

#![allow(dead_code)]

use msrp_wire::{Decoder, Flag, Frame, Item, ParseError, StreamDecoder};

/// The directory of RFC example frames, copied into the repository.
pub fn vectors_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors")
}

/// Every `.msrp` vector, by file name, with its bytes.
pub fn msrp_vectors() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(vectors_dir())
        .expect("vectors directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "msrp"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("read vector"))
        })
        .collect();
    out.sort();
    out
}

/// What a frame means, independent of how it was delivered: for comparing decoders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logical {
    pub offset: u64,
    pub head: Vec<u8>,
    pub body: Option<Vec<u8>>,
    pub flag: Flag,
}

impl Logical {
    pub fn of(frame: &Frame) -> Self {
        Self {
            offset: frame.offset(),
            head: frame.as_bytes()[..frame.head().as_bytes().len()].to_vec(),
            body: frame.body().map(<[u8]>::to_vec),
            flag: frame.flag(),
        }
    }
}

/// Decodes a stream pushed in the given pieces with the whole-frame decoder.
pub fn decode_pieces<'a>(
    pieces: impl IntoIterator<Item = &'a [u8]>,
) -> (Vec<Logical>, Option<ParseError>) {
    let mut decoder = Decoder::new();
    let mut frames = Vec::new();
    for piece in pieces {
        decoder.push(piece);
        loop {
            match decoder.decode() {
                Ok(Some(frame)) => frames.push(Logical::of(&frame)),
                Ok(None) => break,
                Err(e) => return (frames, Some(e)),
            }
        }
    }
    (frames, None)
}

/// Decodes a stream pushed in the given pieces with the streaming decoder, reassembling
/// streamed bodies.
pub fn stream_pieces<'a>(
    pieces: impl IntoIterator<Item = &'a [u8]>,
) -> (Vec<Logical>, Option<ParseError>) {
    let mut decoder = StreamDecoder::new();
    let mut frames = Vec::new();
    let mut open: Option<Logical> = None;
    for piece in pieces {
        decoder.push(piece);
        loop {
            match decoder.decode() {
                Ok(Some(Item::Frame(frame))) => {
                    assert!(open.is_none(), "frame while a body is open");
                    frames.push(Logical::of(&frame));
                }
                Ok(Some(Item::Head(head))) => {
                    assert!(open.is_none(), "head while a body is open");
                    open = Some(Logical {
                        offset: head.offset(),
                        head: head.as_bytes().to_vec(),
                        body: Some(Vec::new()),
                        flag: Flag::End,
                    });
                }
                Ok(Some(Item::Body(bytes))) => {
                    let frame = open.as_mut().expect("body without head");
                    assert!(!bytes.is_empty(), "empty body piece");
                    frame.body.as_mut().unwrap().extend_from_slice(&bytes);
                }
                Ok(Some(Item::End(flag))) => {
                    let mut frame = open.take().expect("end without head");
                    frame.flag = flag;
                    frames.push(frame);
                }
                Ok(None) => break,
                Err(e) => return (frames, Some(e)),
            }
        }
    }
    (frames, None)
}
