//! Property tests: any permutation and duplication of a message's chunks yields the message,
//! once; and a chunk's body never contains its own end-line, even when the transaction ids
//! come from a generator that repeats itself.

mod common;

use common::{ALICE, BOB, Pair, RawChunk, Side, config};
use msrp_session::{Chunking, OutgoingMessage};
use msrp_wire::{Flag, TransactionId};
use proptest::prelude::*;

/// The wire bytes of one chunk of message `mid` holding `body` at `offset`.
fn chunk(
    tid: &str,
    mid: &str,
    offset: usize,
    body: &[u8],
    total: Option<usize>,
    flag: Flag,
    stated_end: bool,
) -> Vec<u8> {
    RawChunk {
        offset,
        total,
        flag,
        stated_end,
        ..RawChunk::new(tid, mid)
    }
    .encode(body)
}

fn message_and_plan() -> impl Strategy<Value = (Vec<u8>, Vec<usize>, Vec<usize>, bool, bool, usize)>
{
    (1usize..200_000).prop_flat_map(|len| {
        (
            prop::collection::vec(any::<u8>(), len..=len),
            prop::collection::vec(0..len, 1..12),
            // The order of delivery: indices into the chunk list, repeats allowed.
            prop::collection::vec(0usize..64, 0..8),
            any::<bool>(),
            any::<bool>(),
            0usize..1000,
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_permutation_and_duplication_yields_the_message(
        (body, cuts, extra, announce, stated, seed) in message_and_plan()
    ) {
        let mut bounds: Vec<usize> = cuts.into_iter().filter(|&c| c > 0).collect();
        bounds.push(0);
        bounds.push(body.len());
        bounds.sort_unstable();
        bounds.dedup();
        let total = announce.then_some(body.len());
        let chunks: Vec<Vec<u8>> = bounds
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                let flag = if w[1] == body.len() { Flag::End } else { Flag::Continued };
                chunk(&format!("tx{i:04}"), "mid1", w[0], &body[w[0]..w[1]], total, flag, stated)
            })
            .collect();
        // A permutation of all chunks, then some duplicates, interleaved.
        let mut order: Vec<usize> = (0..chunks.len()).collect();
        let mut rng = common::Rng::new(seed as u64);
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        for e in extra {
            let at = rng.below(order.len() as u64 + 1) as usize;
            order.insert(at, e % chunks.len());
        }
        let mut pair = Pair::alice_bob(seed as u64);
        let now = pair.now;
        for &i in &order {
            pair.b.conn.handle_input(now, &chunks[i]);
        }
        pair.b.drain_events_for_test();
        prop_assert_eq!(pair.b.seen.received.len(), 1, "delivered once");
        prop_assert!(pair.b.seen.received[0].1 == body, "intact");
        prop_assert!(pair.b.seen.given_up.is_empty());
        // Every chunk, duplicates included, was answered with 200.
        let mut wire = Vec::new();
        pair.b.conn.poll_transmit(now, &mut wire);
        let mut decoder = msrp_wire::Decoder::new();
        decoder.push(&wire);
        let answers: Vec<_> = std::iter::from_fn(|| decoder.decode().unwrap()).collect();
        prop_assert_eq!(answers.len(), order.len());
        prop_assert!(answers.iter().all(|a| a.status_code() == Some(msrp_wire::StatusCode::OK)));
    }

    #[test]
    fn bodies_never_contain_their_own_end_line(
        pieces in prop::collection::vec(0usize..4, 1..300),
        fixed in prop::option::of(1usize..3000),
        seed in 0u64..1000,
    ) {
        // The generator hands out only two different transaction ids, whose end-lines the
        // body is full of.
        let ids = [[1u8; 16], [2u8; 16]];
        let tids: Vec<String> = ids.iter().map(|r| TransactionId::from_random(*r).to_string()).collect();
        let mut body = Vec::new();
        for p in pieces {
            match p {
                0 => body.extend_from_slice(format!("\r\n-------{}$\r\n", tids[0]).as_bytes()),
                1 => body.extend_from_slice(format!("-------{}+", tids[1]).as_bytes()),
                2 => body.extend_from_slice(b"text "),
                _ => body.extend_from_slice(&[b'-'; 9]),
            }
        }
        let mut a = config(ALICE, BOB, seed);
        let mut draws = 0u64;
        a.random = Box::new(move |buf: &mut [u8]| {
            for chunk in buf.chunks_mut(16) {
                // Mostly the two ids the body collides with; now and then a fresh one.
                let mut id = ids[(draws % 2) as usize];
                if draws % 5 == 4 {
                    id[..8].copy_from_slice(&draws.to_le_bytes());
                }
                chunk.copy_from_slice(&id[..chunk.len()]);
                draws += 1;
            }
        });
        if let Some(size) = fixed {
            a.chunking = Chunking::Fixed(size);
        }
        let mut pair = Pair::new(Side::new(vec![a]), Side::new(vec![config(BOB, ALICE, seed + 1)]), seed);
        pair.max_write = 1 + (seed as usize % 700);
        let key = pair.a.key();
        let handle = pair
            .a
            .conn
            .send(key, OutgoingMessage::new("text/plain", body.clone()))
            .unwrap();
        pair.drive();
        let outcome = pair.a.seen.outcome(handle).unwrap();
        prop_assert!(outcome.result.is_ok(), "{:?}", outcome.result);
        prop_assert_eq!(pair.b.seen.received.len(), 1);
        prop_assert!(pair.b.seen.received[0].1 == body);
    }
}
