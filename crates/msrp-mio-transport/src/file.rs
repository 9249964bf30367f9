//! Message bodies read from files as they are sent.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use bytes::{Bytes, BytesMut};
use msrp_session::BodySource;

/// A file as a message body: read on demand, so a file of any size never sits in memory.
#[derive(Debug)]
pub struct FileSource {
    file: File,
    len: u64,
}

impl FileSource {
    /// Opens a file; its current length is announced in Byte-Range.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(Self { file, len })
    }
}

impl BodySource for FileSource {
    fn total_len(&self) -> Option<u64> {
        Some(self.len)
    }

    fn read(&mut self, max: usize) -> io::Result<Bytes> {
        let mut buf = BytesMut::zeroed(max.min(1 << 20));
        let n = loop {
            match self.file.read(&mut buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        buf.truncate(n);
        Ok(buf.freeze())
    }
}
