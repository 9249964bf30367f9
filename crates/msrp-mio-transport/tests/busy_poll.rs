//! `EndpointConfig::busy_poll`: messages in lockstep all arrive, and once the traffic stops the
//! event loops go back to sleep instead of polling on.

mod common;

use std::time::Duration;

use common::{pair, wait_for, wait_outcome};
use msrp_mio_transport::{EndpointConfig, EndpointEvent};
use msrp_session::{Event, OutgoingMessage};

/// CPU time (user and system, in clock ticks) of this process's event-loop threads, read from
/// `/proc`.
#[cfg(target_os = "linux")]
fn loop_threads_cpu_ticks() -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = task.unwrap().path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim() != "msrp-endpoint" {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
        // The fields after the command name, which is in parentheses and may hold spaces:
        // utime and stime are the 14th and 15th fields of the line.
        let after = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
        let fields: Vec<&str> = after.split_whitespace().collect();
        total += fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    }
    total
}

#[test]
fn lockstep_with_busy_poll_delivers_everything_then_sleeps() {
    let mut config = EndpointConfig::default();
    config.busy_poll = Duration::from_millis(1);
    let p = pair(false, config, |_, _| {});
    for i in 0..300u32 {
        let text = format!("message {i}");
        let m = p.client.handle().send(
            p.client_session,
            OutgoingMessage::new("text/plain", text.clone()),
        );
        let body = wait_for(&p.server, Duration::from_secs(10), |e| match e {
            EndpointEvent::Session(_, Event::Message(m)) => Some(m.body),
            _ => None,
        });
        assert_eq!(&body[..], text.as_bytes());
        let outcome = wait_outcome(&p.client, m, Duration::from_secs(10));
        assert!(outcome.result.is_ok(), "{outcome:?}");
    }
    // Idle now: each loop polls for at most 1 ms more, then sleeps. Two loops polling through
    // the whole second would take about 200 ticks (at 100 per second); sleeping ones close to
    // none.
    #[cfg(target_os = "linux")]
    {
        std::thread::sleep(Duration::from_millis(50));
        let before = loop_threads_cpu_ticks();
        std::thread::sleep(Duration::from_secs(1));
        let spent = loop_threads_cpu_ticks() - before;
        assert!(
            spent <= 20,
            "the idle event loops used {spent} ticks of CPU in one second"
        );
    }
}
