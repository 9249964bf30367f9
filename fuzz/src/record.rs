//! Decoded frames as plain data, so that the output of different decoders can be compared.

use std::fmt;

use msrp_wire::{Decoder, Flag, Frame, Item, ParseError, StreamDecoder};

/// One frame as a decoder reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Stream offset of the frame's first byte.
    pub offset: u64,
    /// The head as received (start line, headers, and the blank line before a body).
    pub head: Vec<u8>,
    /// The body, or `None` for a frame without one.
    pub body: Option<Vec<u8>>,
    /// The end-line's flag.
    pub flag: Flag,
}

impl Record {
    /// The record of a whole frame.
    pub fn of_frame(frame: &Frame) -> Self {
        Self {
            offset: frame.offset(),
            head: frame.head().as_bytes().to_vec(),
            body: frame.body().map(<[u8]>::to_vec),
            flag: frame.flag(),
        }
    }

    /// The length of the frame on the wire: head, body, and end-line.
    pub fn wire_len(&self) -> usize {
        // The transaction id runs from after "MSRP " to the next space.
        let tid_len = self.head[5..]
            .iter()
            .position(|&b| b == b' ')
            .expect("a start line");
        let end_line = "-------".len() + tid_len + "$\r\n".len();
        match &self.body {
            Some(body) => self.head.len() + body.len() + "\r\n".len() + end_line,
            None => self.head.len() + end_line,
        }
    }
}

/// Everything a decoder reported about a stream: its frames, then the error that ended it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The frames, in stream order.
    pub records: Vec<Record>,
    /// The framing error, if the stream failed.
    pub error: Option<ParseError>,
}

impl Outcome {
    /// Decodes frames until `decoder` wants more bytes or fails. After a failure the decoder is
    /// asked once more, as errors are sticky.
    pub fn drain(&mut self, decoder: &mut Decoder) {
        if self.error.is_some() {
            return;
        }
        loop {
            match decoder.decode() {
                Ok(Some(frame)) => self.records.push(Record::of_frame(&frame)),
                Ok(None) => return,
                Err(e) => {
                    assert_eq!(decoder.decode().err(), Some(e), "errors are sticky");
                    self.error = Some(e);
                    return;
                }
            }
        }
    }

    /// Asserts that this outcome, of a decoder fed a stream in pieces, agrees with `whole`, of
    /// a decoder fed the whole stream at once: the same frames and the same error. `context`
    /// goes into the failure message.
    pub fn assert_agrees(&self, whole: &Outcome, context: &dyn fmt::Debug) {
        assert_eq!(self.records, whole.records, "{context:?}");
        assert!(
            same_error(self.error, whole.error),
            "{:?} in pieces, {:?} at once; {context:?}",
            self.error,
            whole.error
        );
    }
}

/// Whether the error of a decoder fed a stream in pieces agrees with the error of a decoder fed
/// the whole stream: they must be equal, kind and offset.
fn same_error(split: Option<ParseError>, whole: Option<ParseError>) -> bool {
    split == whole
}

/// Rebuilds whole-frame records from the items of a [`StreamDecoder`], checking that the items
/// come in the documented order: `Frame`, or `Head`, any number of `Body`, then `End`.
#[derive(Debug, Default)]
pub struct Reassembler {
    /// The completed frames and the error.
    pub outcome: Outcome,
    /// The frame whose head was handed out and whose end was not.
    partial: Option<Record>,
}

impl Reassembler {
    /// Takes items from `decoder` until it wants more bytes or fails. `max_body` is the limit the
    /// decoder was built with.
    pub fn drain(&mut self, decoder: &mut StreamDecoder, max_body: usize) {
        if self.outcome.error.is_some() {
            return;
        }
        loop {
            let item = match decoder.decode() {
                Ok(Some(item)) => item,
                Ok(None) => return,
                Err(e) => {
                    assert_eq!(decoder.decode().err(), Some(e), "errors are sticky");
                    self.outcome.error = Some(e);
                    return;
                }
            };
            match item {
                Item::Frame(frame) => {
                    assert!(
                        self.partial.is_none(),
                        "a whole frame inside a streamed one"
                    );
                    assert!(frame.body().map_or(0, <[u8]>::len) <= max_body);
                    self.outcome.records.push(Record::of_frame(&frame));
                }
                Item::Head(head) => {
                    assert!(self.partial.is_none(), "a head inside a streamed frame");
                    assert!(head.has_body(), "only a frame with a body is streamed");
                    self.partial = Some(Record {
                        offset: head.offset(),
                        head: head.as_bytes().to_vec(),
                        body: Some(Vec::new()),
                        flag: Flag::End,
                    });
                }
                Item::Body(piece) => {
                    assert!(!piece.is_empty(), "body pieces are never empty");
                    let partial = self.partial.as_mut().expect("a body piece without a head");
                    partial
                        .body
                        .get_or_insert_default()
                        .extend_from_slice(&piece);
                }
                Item::End(flag) => {
                    let mut record = self.partial.take().expect("an end without a head");
                    record.flag = flag;
                    self.outcome.records.push(record);
                }
            }
            assert_eq!(decoder.is_streaming(), self.partial.is_some());
        }
    }
}
