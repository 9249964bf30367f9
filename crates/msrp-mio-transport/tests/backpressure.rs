//! Input that stops while responses wait to be written resumes once they are: a receiver whose
//! queue of responses is kept small, taking a message cut into many small chunks, each of which
//! asks for a response.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{pair, wait_for, wait_outcome};
use msrp_mio_transport::{EndpointConfig, EndpointEvent};
use msrp_session::{Chunking, Event, OutgoingMessage};

fn many_small_chunks(tls: bool) {
    let mut config = EndpointConfig::default();
    // A few responses fill the queue, so input stops and resumes over and over.
    config.endpoint.connection.max_queued_control = 4096;
    config.endpoint.connection.frame_timeout = Duration::from_secs(5);
    let p = pair(tls, config, |c, _| c.chunking = Chunking::Fixed(2048));
    let size = 8 << 20;
    let body: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    let m = p
        .client
        .handle()
        .send(
            p.client_session,
            OutgoingMessage::new("application/octet-stream", Bytes::from(body.clone())),
        )
        .expect("the endpoint runs");
    let mut received = vec![0u8; size];
    let mut count = 0;
    let end = wait_for(&p.server, Duration::from_secs(60), |e| match e {
        EndpointEvent::Session(_, Event::MessageData(d)) => {
            let at = d.offset as usize;
            received[at..at + d.data.len()].copy_from_slice(&d.data);
            count += d.data.len();
            None
        }
        EndpointEvent::Session(_, Event::MessageEnd(end)) => Some(end.result),
        EndpointEvent::Session(_, Event::Message(whole)) => {
            received.copy_from_slice(&whole.body);
            count = whole.body.len();
            Some(Ok(count as u64))
        }
        _ => None,
    });
    assert!(end.is_ok(), "{end:?}");
    assert_eq!(count, size);
    assert!(received == body, "the message arrived altered");
    let outcome = wait_outcome(&p.client, m, Duration::from_secs(30));
    assert!(outcome.result.is_ok(), "{outcome:?}");
}

#[test]
fn input_resumes_after_responses_are_written_over_tcp() {
    many_small_chunks(false);
}

#[test]
fn input_resumes_after_responses_are_written_over_tls() {
    many_small_chunks(true);
}
