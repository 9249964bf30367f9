//! Many messages in both directions through the deterministic pair: random sizes from 0 to
//! 8 MiB, random chunking, random read splits and write budgets, in-memory and pulled bodies,
//! every report mode. Every message must arrive intact, and every sent message must have
//! exactly one outcome, and the right one.

mod common;

use std::io;

use bytes::Bytes;
use common::{Pair, Rng};
use msrp_session::{BodySource, Chunking, MessageHandle, OutgoingMessage};
use msrp_wire::FailureReport;

/// A body produced as it is read, with or without announcing its length.
struct Generated {
    data: Bytes,
    pos: usize,
    announce: bool,
}

impl BodySource for Generated {
    fn total_len(&self) -> Option<u64> {
        self.announce.then_some(self.data.len() as u64)
    }

    fn read(&mut self, max: usize) -> io::Result<Bytes> {
        let n = max.min(self.data.len() - self.pos).min(10_000);
        let out = self.data.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(out)
    }
}

fn size(rng: &mut Rng, big: bool) -> usize {
    match rng.below(10) {
        0 => 0,
        1 => 1,
        2..=4 => rng.below(200) as usize,
        5..=7 => rng.below(70_000) as usize,
        8 => rng.below(1 << 20) as usize,
        _ if big => 1 + rng.below(8 << 20) as usize,
        _ => rng.below(3000) as usize,
    }
}

/// Bodies that stress end-line handling: text around hyphens and ids.
fn body(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut v = rng.bytes(len);
    let mut i = 0;
    while i + 40 < len {
        if rng.below(50) == 0 {
            v[i..i + 2].copy_from_slice(b"\r\n");
            v[i + 2..i + 9].copy_from_slice(b"-------");
        }
        i += 1 + rng.below(200) as usize;
    }
    v
}

struct Sent {
    side: usize,
    handle: MessageHandle,
    body: Vec<u8>,
    failure_report: FailureReport,
    success_report: bool,
}

fn run(seed: u64, messages: usize, big: bool) {
    let mut rng = Rng::new(seed);
    let mut chunking = || match rng.below(3) {
        0 => Chunking::Interruptible,
        1 => Chunking::Fixed(1 + rng.below(2048) as usize),
        _ => Chunking::Fixed(2049 + rng.below(100_000) as usize),
    };
    let mut a = common::config(common::ALICE, common::BOB, seed);
    a.chunking = chunking();
    let mut b = common::config(common::BOB, common::ALICE, seed ^ 0xB0B);
    b.chunking = chunking();
    let mut pair = Pair::new(common::Side::new(vec![a]), common::Side::new(vec![b]), seed);
    // Byte-at-a-time moves are slow in a debug build: only small runs use them.
    let (writes, reads): (&[usize], &[usize]) = if big {
        (&[0, 5000, 70_000, 300_000], &[0, 16_384, 100_000, 1 << 20])
    } else {
        (
            &[0, 1, 7, 100, 5000, 70_000],
            &[0, 1, 13, 999, 16_384, 100_000],
        )
    };
    pair.max_write = writes[rng.below(writes.len() as u64) as usize];
    pair.max_read = reads[rng.below(reads.len() as u64) as usize];
    let mut sent = Vec::new();
    for i in 0..messages {
        let side = (rng.below(2)) as usize;
        let mut len = size(&mut rng, big);
        if (1..100).contains(&pair.max_write) || (1..100).contains(&pair.max_read) {
            // Tiny moves are slow in a debug build: keep the bodies they carry small.
            len = len.min(4000);
        }
        let data = body(&mut rng, len);
        let failure_report = [
            FailureReport::Yes,
            FailureReport::Partial,
            FailureReport::No,
        ][rng.below(3) as usize];
        let success_report = rng.below(3) == 0;
        let message = match rng.below(3) {
            0 => OutgoingMessage::from_source(
                "application/octet-stream",
                Generated {
                    data: Bytes::from(data.clone()),
                    pos: 0,
                    announce: rng.below(2) == 0,
                },
            ),
            _ => OutgoingMessage::new(
                if i % 2 == 0 {
                    "text/plain"
                } else {
                    "image/jpeg"
                },
                data.clone(),
            ),
        }
        .failure_report(failure_report)
        .success_report(success_report);
        let (conn, key) = if side == 0 {
            (&mut pair.a.conn, pair.a.keys[0])
        } else {
            (&mut pair.b.conn, pair.b.keys[0])
        };
        let handle = conn.send(key, message).unwrap();
        sent.push(Sent {
            side,
            handle,
            body: data,
            failure_report,
            success_report,
        });
        // Sometimes let traffic flow between sends, so messages overlap in time.
        if rng.below(3) == 0 {
            for _ in 0..rng.below(20) {
                pair.step();
            }
        }
    }
    pair.drive();

    for s in &sent {
        let (sender, receiver) = if s.side == 0 {
            (&pair.a.seen, &pair.b.seen)
        } else {
            (&pair.b.seen, &pair.a.seen)
        };
        let outcomes: Vec<_> = sender
            .outcomes
            .iter()
            .filter(|o| o.handle == s.handle)
            .collect();
        assert_eq!(
            outcomes.len(),
            1,
            "seed {seed}: exactly one outcome per message"
        );
        let delivered = outcomes[0]
            .result
            .as_ref()
            .unwrap_or_else(|f| panic!("seed {seed}: {f}"));
        assert_eq!(delivered.bytes, s.body.len() as u64);
        assert_eq!(
            delivered.acknowledged,
            s.failure_report == FailureReport::Yes
        );
        assert_eq!(delivered.reported, s.success_report);
        let id = outcomes[0].message_id.to_string();
        let copies: Vec<_> = receiver.received.iter().filter(|(m, _)| *m == id).collect();
        assert_eq!(copies.len(), 1, "seed {seed}: message {id} arrives once");
        assert!(
            copies[0].1 == s.body,
            "seed {seed}: message {id} arrives intact"
        );
    }
    let total = |seen: &common::Seen| seen.received.len();
    assert_eq!(
        total(&pair.a.seen) + total(&pair.b.seen),
        sent.len(),
        "seed {seed}: nothing arrives that was not sent"
    );
    assert!(pair.a.seen.given_up.is_empty() && pair.b.seen.given_up.is_empty());
    assert!(
        pair.a.conn.is_idle() && pair.b.conn.is_idle(),
        "seed {seed}"
    );
}

#[test]
fn small_messages_with_tiny_splits() {
    for seed in 0..60 {
        run(seed, 12, false);
    }
}

#[test]
fn messages_up_to_8_mib() {
    for seed in 100..112 {
        run(seed, 16, true);
    }
}
