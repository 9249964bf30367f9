//! Sockets as the loop wants them: outgoing connections and listeners, with the TCP
//! congestion control chosen for connections that stay on this host
//! ([`EndpointConfig::loopback_congestion`](crate::EndpointConfig::loopback_congestion)).

use std::io;
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};

/// Whether a connection to or from `addr` stays on this host: a loopback address, IPv4-mapped
/// ones included.
fn is_loopback(addr: SocketAddr) -> bool {
    match addr {
        SocketAddr::V4(v4) => v4.ip().is_loopback(),
        SocketAddr::V6(v6) => {
            v6.ip().is_loopback() || v6.ip().to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// The congestion control a socket to or from `addr` is given: `congestion` for loopback
/// addresses, none (the system's) for the others.
fn congestion_for(addr: SocketAddr, congestion: Option<&str>) -> Option<&str> {
    congestion.filter(|name| !name.is_empty() && is_loopback(addr))
}

/// Starts a non-blocking connection to `addr`. A loopback peer gets `congestion` as its
/// congestion control, set before the connection is made: the kernel decides whether a
/// connection is paced when it is established, and a later change keeps the pacing.
pub(crate) fn connect(addr: SocketAddr, congestion: Option<&str>) -> io::Result<TcpStream> {
    #[cfg(target_os = "linux")]
    if let Some(name) = congestion_for(addr, congestion) {
        use socket2::{Domain, Protocol, Socket, Type};
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_nonblocking(true)?;
        // A name the kernel does not know, or may not hand to this process, leaves the
        // system's default: the connection works either way.
        let _ = socket.set_tcp_congestion(name.as_bytes());
        match socket.connect(&addr.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Err(e),
        }
        return Ok(TcpStream::from_std(socket.into()));
    }
    #[cfg(not(target_os = "linux"))]
    let _ = congestion_for(addr, congestion);
    TcpStream::connect(addr)
}

/// Gives a listener bound to a loopback address `congestion` as its congestion control, which
/// the connections it accepts inherit. Listeners on other addresses (a wildcard one too) keep
/// the system's.
pub(crate) fn tune_listener(listener: &TcpListener, local: SocketAddr, congestion: Option<&str>) {
    #[cfg(target_os = "linux")]
    if let Some(name) = congestion_for(local, congestion) {
        let _ = socket2::SockRef::from(listener).set_tcp_congestion(name.as_bytes());
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (listener, congestion_for(local, congestion));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_addresses_get_the_congestion_control() {
        let reno = Some("reno");
        for addr in [
            "127.0.0.1:1",
            "127.8.9.10:1",
            "[::1]:1",
            "[::ffff:127.0.0.1]:1",
        ] {
            assert_eq!(congestion_for(addr.parse().unwrap(), reno), reno, "{addr}");
        }
        for addr in [
            "10.0.0.1:1",
            "0.0.0.0:1",
            "[::]:1",
            "[2001:db8::1]:1",
            "[::ffff:10.0.0.1]:1",
        ] {
            assert_eq!(congestion_for(addr.parse().unwrap(), reno), None, "{addr}");
        }
        assert_eq!(congestion_for("127.0.0.1:1".parse().unwrap(), None), None);
        assert_eq!(
            congestion_for("127.0.0.1:1".parse().unwrap(), Some("")),
            None
        );
    }

    #[cfg(target_os = "linux")]
    fn congestion_of(socket: impl std::os::fd::AsFd) -> String {
        let name = socket2::SockRef::from(&socket).tcp_congestion().unwrap();
        String::from_utf8_lossy(&name)
            .trim_end_matches('\0')
            .to_owned()
    }

    /// The system's default, as a fresh socket has it.
    #[cfg(target_os = "linux")]
    fn system_default() -> String {
        congestion_of(std::net::TcpListener::bind("127.0.0.1:0").unwrap())
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn loopback_connections_both_ways_get_the_chosen_congestion_control() {
        // Reno is built into every kernel and always permitted to unprivileged processes.
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let local = listener.local_addr().unwrap();
        tune_listener(&listener, local, Some("reno"));
        assert_eq!(congestion_of(&listener), "reno");

        let client = connect(local, Some("reno")).unwrap();
        assert_eq!(congestion_of(&client), "reno");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let accepted = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "no connection accepted"
                    );
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        assert_eq!(congestion_of(&accepted), "reno");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn without_a_choice_sockets_keep_the_system_default() {
        let system = system_default();
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let local = listener.local_addr().unwrap();
        tune_listener(&listener, local, None);
        assert_eq!(congestion_of(&listener), system);
        assert_eq!(congestion_of(connect(local, None).unwrap()), system);
        // A name the kernel does not know leaves the default too, and the connection is made.
        let client = connect(local, Some("no-such-algorithm")).unwrap();
        assert_eq!(congestion_of(&client), system);
    }
}
