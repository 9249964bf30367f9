//! Sends one text message to the URI given as argument and waits for its outcome.
//!
//! ```text
//! cargo run -p msrp-mio-transport --example send -- msrp://127.0.0.1:40000/abcdef;tcp "Hello"
//! ```

use msrp_mio_transport::{
    Endpoint, EndpointConfig, EndpointEvent, Role, SessionSpec, secure_random,
};
use msrp_session::{OutgoingMessage, SessionConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let to = args.next().ok_or("usage: send <msrp URI> [text]")?;
    let text = args.next().unwrap_or_else(|| "Hello over MSRP".into());
    let from = format!(
        "msrp://127.0.0.1:2855/{};tcp",
        msrp_uri::generate_session_id(secure_random())
    );

    let endpoint = Endpoint::start(EndpointConfig::default())?;
    let config = SessionConfig::new(from.parse()?, to.parse()?, secure_random());
    let session = endpoint
        .handle()
        .open_session(SessionSpec::new(config, Role::Active))?;
    let message = endpoint
        .handle()
        .send(session, OutgoingMessage::new("text/plain", text))
        .expect("the endpoint runs");
    while let Some(event) = endpoint.events().recv() {
        match event {
            EndpointEvent::Outcome {
                message: m,
                outcome,
                ..
            } if m == message => {
                match outcome.result {
                    Ok(d) => println!("delivered {} bytes", d.bytes),
                    Err(f) => println!("not delivered: {f}"),
                }
                break;
            }
            EndpointEvent::ConnectionClosed { error, .. } => println!("{error}"),
            _ => {}
        }
    }
    Ok(())
}
