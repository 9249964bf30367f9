//! A 256 MiB file over loopback TCP and TLS arrives byte-identical, with success reports.

mod common;

use std::io::Write;
use std::time::Duration;

use common::{pair, wait_for};
use msrp_mio_transport::{EndpointConfig, EndpointEvent, FileSource};
use msrp_session::{Event, OutgoingMessage};
use sha2::{Digest, Sha256};

const SIZE: u64 = 256 << 20;

/// A file of pseudo-random bytes, removed when dropped.
struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn make_file(name: &str) -> (TempFile, Vec<u8>) {
    let path = std::env::temp_dir().join(format!("msrp-transfer-{}-{name}", std::process::id()));
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut hash = Sha256::new();
    let mut x = 0x1234_5678_9abc_def1u64;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..SIZE / block.len() as u64 {
        for chunk in block.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        // Now and then, text that looks like an end-line.
        block[1000..1029].copy_from_slice(b"\r\n-------abcdefgh$\r\n---------");
        hash.update(&block);
        file.write_all(&block).unwrap();
    }
    file.flush().unwrap();
    (TempFile(path), hash.finalize().to_vec())
}

fn transfer(tls: bool) {
    let (file, digest) = make_file(if tls { "tls" } else { "tcp" });
    let p = pair(tls, EndpointConfig::default(), |_, _| {});
    let message = p
        .client
        .handle()
        .send(
            p.client_session,
            OutgoingMessage::from_source(
                "application/octet-stream",
                FileSource::open(&file.0).unwrap(),
            )
            .success_report(true),
        )
        .expect("the endpoint runs");
    let mut hash = Sha256::new();
    let mut next = 0u64;
    let size = wait_for(&p.server, Duration::from_secs(300), |e| match e {
        EndpointEvent::Session(_, Event::MessageStart(s)) => {
            assert_eq!(s.total, Some(SIZE));
            None
        }
        EndpointEvent::Session(_, Event::MessageData(d)) => {
            assert_eq!(d.offset, next, "one chunk, in order");
            next += d.data.len() as u64;
            hash.update(&d.data);
            None
        }
        EndpointEvent::Session(_, Event::MessageEnd(end)) => Some(end.result.unwrap()),
        _ => None,
    });
    assert_eq!(size, SIZE);
    assert_eq!(hash.finalize().to_vec(), digest, "byte-identical");
    let outcome = wait_for(&p.client, Duration::from_secs(60), |e| match e {
        EndpointEvent::Outcome {
            message: m,
            outcome,
            ..
        } if m == message => Some(outcome),
        _ => None,
    });
    let delivered = outcome.result.unwrap();
    assert_eq!(delivered.bytes, SIZE);
    assert!(delivered.reported && delivered.acknowledged);
}

#[test]
fn file_of_256_mib_over_tcp() {
    transfer(false);
}

#[test]
fn file_of_256_mib_over_tls() {
    transfer(true);
}
