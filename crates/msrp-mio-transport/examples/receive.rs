//! Receives messages: listens on loopback, prints the URI to send to, then prints each message.
//!
//! ```text
//! cargo run -p msrp-mio-transport --example receive
//! cargo run -p msrp-mio-transport --example send -- <the URI printed>
//! ```

use msrp_mio_transport::{
    Endpoint, EndpointConfig, EndpointEvent, Role, SessionSpec, secure_random,
};
use msrp_session::{Event, FromPathCheck, SessionConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = Endpoint::start(EndpointConfig::default())?;
    let addr = endpoint.handle().listen("127.0.0.1:0".parse()?, false)?;
    let uri = format!(
        "msrp://{addr}/{};tcp",
        msrp_uri::generate_session_id(secure_random())
    );
    // Whoever connects and names this session may send to it (no SDP exchange here).
    let mut config = SessionConfig::new(
        uri.parse()?,
        "msrp://peer.invalid:9/any;tcp".parse()?,
        secure_random(),
    );
    config.from_path_check = FromPathCheck::Off;
    endpoint
        .handle()
        .open_session(SessionSpec::new(config, Role::Passive))?;
    println!("{uri}");
    while let Some(event) = endpoint.events().recv() {
        match event {
            EndpointEvent::Session(_, Event::Message(m)) => {
                println!("{}", String::from_utf8_lossy(&m.body));
            }
            EndpointEvent::Session(_, Event::SessionFailed(why)) => {
                println!("session ended: {why}");
                break;
            }
            _ => {}
        }
    }
    Ok(())
}
