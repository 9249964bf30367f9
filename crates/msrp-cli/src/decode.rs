//! `msrp decode`: print the frames of an MSRP byte stream.
//!
//! The stream is read in pieces into a [`StreamDecoder`], so a file of any size decodes in
//! bounded memory in the human-readable form, which shows a preview and a hash of each body;
//! `--json` holds one body at a time, as its base64 text is part of the frame's line.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use msrp_wire::{Flag, Head, Item, ParseError, StreamDecoder};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::Failure;

/// Arguments of `msrp decode`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// File holding the byte stream; stdin when absent or `-`.
    file: Option<PathBuf>,
    /// Print one JSON object per frame (and per framing error) instead of text.
    #[arg(long)]
    json: bool,
    /// Show at most this many bytes of each text body in the human-readable output.
    #[arg(long, default_value_t = 1024, value_name = "BYTES")]
    show: usize,
}

/// Exit status for a framing error or a stream that ends mid-frame.
const FRAMING_ERROR: u8 = 1;

/// A body being received, kept as the output needs it.
enum BodySink {
    /// For `--json`: the body, encoded in base64 when the frame is printed.
    Whole(Vec<u8>),
    /// For text output: the first bytes, the length and a running hash.
    Summary {
        preview: Vec<u8>,
        len: u64,
        hash: Sha256,
    },
}

impl BodySink {
    fn new(json: bool) -> Self {
        if json {
            Self::Whole(Vec::new())
        } else {
            Self::Summary {
                preview: Vec::new(),
                len: 0,
                hash: Sha256::new(),
            }
        }
    }

    fn add(&mut self, piece: &[u8], show: usize) {
        match self {
            Self::Whole(body) => body.extend_from_slice(piece),
            Self::Summary { preview, len, hash } => {
                let room = (show + 1).saturating_sub(preview.len());
                preview.extend_from_slice(&piece[..piece.len().min(room)]);
                *len += piece.len() as u64;
                hash.update(piece);
            }
        }
    }
}

/// The frame being printed: its head and, when it has one, its body so far.
struct Open {
    head: Head,
    body: Option<BodySink>,
}

struct Printer<W: Write> {
    out: W,
    json: bool,
    show: usize,
    count: u64,
}

impl<W: Write> Printer<W> {
    fn frame(&mut self, open: Open, flag: Flag) -> io::Result<()> {
        self.count += 1;
        if self.json {
            let line = json_frame(&open, flag);
            writeln!(self.out, "{line}")
        } else {
            let text = text_frame(self.count, &open, flag, self.show);
            self.out.write_all(text.as_bytes())
        }
    }

    fn error(&mut self, offset: u64, error: &str) -> io::Result<()> {
        if self.json {
            let line = json!({ "kind": "error", "offset": offset, "error": error });
            writeln!(self.out, "{line}")?;
        }
        Ok(())
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json_frame(open: &Open, flag: Flag) -> Value {
    let head = &open.head;
    let mut obj = serde_json::Map::new();
    let kind = if head.is_request() {
        "request"
    } else {
        "response"
    };
    obj.insert("kind".into(), kind.into());
    obj.insert("transaction_id".into(), head.transaction_id().into());
    match head.method() {
        Some(method) => {
            obj.insert("method".into(), method.as_str().into());
        }
        None => {
            let code = head.status_code().map(|c| c.as_u16());
            obj.insert("status".into(), code.into());
            obj.insert("comment".into(), head.comment().map(lossy).into());
        }
    }
    let headers: Vec<Value> = head
        .headers()
        .map(|h| json!([lossy(h.raw_name), lossy(h.value)]))
        .collect();
    obj.insert("headers".into(), headers.into());
    let (len, base64) = match &open.body {
        Some(BodySink::Whole(body)) => (body.len() as u64, Value::from(STANDARD.encode(body))),
        Some(BodySink::Summary { len, .. }) => (*len, Value::Null),
        None => (0, Value::Null),
    };
    obj.insert("body_len".into(), len.into());
    obj.insert("body_base64".into(), base64);
    obj.insert("flag".into(), (flag.as_byte() as char).to_string().into());
    obj.insert("offset".into(), head.offset().into());
    Value::Object(obj)
}

/// Whether a body reads as text: valid UTF-8 without control characters other than tab and
/// line breaks.
fn is_text(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(s) => !s
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n')),
        // A preview may end inside a multi-byte character.
        Err(e) => e.error_len().is_none() && is_text(&bytes[..e.valid_up_to()]),
    }
}

fn text_frame(n: u64, open: &Open, flag: Flag, show: usize) -> String {
    let head = &open.head;
    let mut s = String::new();
    let what = match (head.method(), head.status_code()) {
        (Some(method), _) => format!("request {method}"),
        (None, Some(code)) => match head.comment() {
            Some(comment) => format!("response {code} {}", lossy(comment)),
            None => format!("response {code}"),
        },
        (None, None) => "frame".to_owned(),
    };
    let _ = writeln!(
        s,
        "#{n} at byte {}: {what}, transaction {}",
        head.offset(),
        head.transaction_id()
    );
    for h in head.headers() {
        let _ = writeln!(s, "  {}: {}", lossy(h.raw_name), lossy(h.value));
    }
    let flag_meaning = match flag {
        Flag::End => "end of message",
        Flag::Continued => "more chunks follow",
        Flag::Aborted => "message aborted",
    };
    match &open.body {
        None => {
            let _ = writeln!(s, "  no body; end-line flag {flag} ({flag_meaning})");
        }
        Some(BodySink::Summary { preview, len, hash }) => {
            let digest: String = hash
                .clone()
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let text = is_text(preview);
            let _ = writeln!(
                s,
                "  body: {len} bytes ({}), sha256 {digest}; end-line flag {flag} ({flag_meaning})",
                if text { "text" } else { "binary" }
            );
            if text && *len > 0 {
                let shown = &preview[..preview.len().min(show)];
                for line in String::from_utf8_lossy(shown).split("\r\n") {
                    let _ = writeln!(s, "  | {line}");
                }
                if *len > shown.len() as u64 {
                    let _ = writeln!(s, "  | … {} more bytes", *len - shown.len() as u64);
                }
            }
        }
        Some(BodySink::Whole(_)) => {}
    }
    s
}

/// Runs `msrp decode`.
pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let mut input: Box<dyn Read> = match &args.file {
        Some(path) if path.as_os_str() != "-" => Box::new(File::open(path).map_err(|e| {
            Failure::new(
                FRAMING_ERROR,
                format!("cannot read {}: {e}", path.display()),
            )
        })?),
        _ => Box::new(io::stdin().lock()),
    };
    let stdout = io::stdout().lock();
    let mut printer = Printer {
        out: BufWriter::new(stdout),
        json: args.json,
        show: args.show,
        count: 0,
    };
    let result = decode_stream(&mut input, &mut printer, args);
    let flushed = printer.out.flush();
    match result {
        Err(Stop::Output(e)) | Err(Stop::Input(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
            Ok(())
        }
        Err(Stop::Input(e)) => Err(Failure::new(FRAMING_ERROR, format!("read error: {e}"))),
        Err(Stop::Output(e)) => Err(Failure::new(FRAMING_ERROR, format!("write error: {e}"))),
        Err(Stop::Framing { offset, message }) => {
            // In JSON mode the error is also on stdout, as one object.
            Err(Failure::new(
                FRAMING_ERROR,
                format!("framing error at byte {offset}: {message}"),
            ))
        }
        Ok(()) => flushed.map_err(|e| Failure::new(FRAMING_ERROR, format!("write error: {e}"))),
    }
}

enum Stop {
    Input(io::Error),
    Output(io::Error),
    Framing { offset: u64, message: String },
}

fn framing<W: Write>(printer: &mut Printer<W>, offset: u64, message: String) -> Stop {
    match printer.error(offset, &message) {
        Ok(()) => Stop::Framing { offset, message },
        Err(e) => Stop::Output(e),
    }
}

fn decode_stream<W: Write>(
    input: &mut dyn Read,
    printer: &mut Printer<W>,
    args: &Args,
) -> Result<(), Stop> {
    let mut decoder = StreamDecoder::new();
    let mut open: Option<Open> = None;
    loop {
        let n = decoder
            .fill(64 * 1024, |buf| {
                loop {
                    match input.read(buf) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        other => return other,
                    }
                }
            })
            .map_err(Stop::Input)?;
        loop {
            match decoder.decode() {
                Ok(Some(Item::Frame(frame))) => {
                    let mut body = frame.body().map(|_| BodySink::new(args.json));
                    if let (Some(sink), Some(bytes)) = (&mut body, frame.body()) {
                        sink.add(bytes, args.show);
                    }
                    let flag = frame.flag();
                    let head = frame.into_head();
                    printer
                        .frame(Open { head, body }, flag)
                        .map_err(Stop::Output)?;
                }
                Ok(Some(Item::Head(head))) => {
                    open = Some(Open {
                        head,
                        body: Some(BodySink::new(args.json)),
                    });
                }
                Ok(Some(Item::Body(piece))) => {
                    if let Some(sink) = open.as_mut().and_then(|o| o.body.as_mut()) {
                        sink.add(&piece, args.show);
                    }
                }
                Ok(Some(Item::End(flag))) => {
                    if let Some(o) = open.take() {
                        printer.frame(o, flag).map_err(Stop::Output)?;
                    }
                }
                Ok(None) => break,
                Err(e) => return Err(parse_failure(printer, e)),
            }
        }
        if n == 0 {
            break;
        }
    }
    if decoder.is_mid_frame() {
        let offset = open.map_or(decoder.position(), |o| o.head.offset());
        return Err(framing(
            printer,
            offset,
            "stream ends in the middle of a frame".to_owned(),
        ));
    }
    Ok(())
}

fn parse_failure<W: Write>(printer: &mut Printer<W>, e: ParseError) -> Stop {
    framing(printer, e.offset(), e.kind().to_string())
}
