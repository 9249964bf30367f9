//! Kamailio's MSRP relay, started from the project's configuration
//! (`interop/kamailio/relay.cfg`) on a free loopback port, for the benches and the interop
//! tests that put an independent relay next to ours.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Kamailio binary, if it is installed (Debian puts it in /usr/sbin, outside most users'
/// `PATH`).
pub fn binary() -> Option<PathBuf> {
    ["/usr/sbin/kamailio", "/usr/local/sbin/kamailio"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .or_else(|| {
            Command::new("kamailio")
                .arg("-v")
                .output()
                .ok()
                .map(|_| PathBuf::from("kamailio"))
        })
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running Kamailio relay, stopped (by its pid file) and its run directory removed when
/// dropped.
#[derive(Debug)]
pub struct Kamailio {
    launcher: Child,
    dir: PathBuf,
    pid_file: PathBuf,
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    /// Its WebSocket port (RFC 7977), when started with [`Kamailio::with_websocket`].
    pub ws_port: Option<u16>,
    /// Its secure WebSocket port, when started with a certificate.
    pub wss_port: Option<u16>,
}

/// A certificate and private key, as absolute paths of PEM files.
#[derive(Clone, Copy, Debug)]
pub struct CertificateFiles<'a> {
    /// The certificate chain.
    pub cert: &'a Path,
    /// Its private key.
    pub key: &'a Path,
}

impl Kamailio {
    /// Starts the relay with these `-A` defines (`WITH_AUTH`, say), and waits until it
    /// listens (10 s at most). `name` tells runs apart in the temporary directory.
    pub fn start(binary: &Path, name: &str, defines: &[&str]) -> Kamailio {
        Self::launch(binary, name, defines, None, None)
    }

    /// Starts the relay for WebSocket clients too (`WITH_WS`), and over TLS for them (`wss`)
    /// with `tls`, with these further defines.
    pub fn with_websocket(
        binary: &Path,
        name: &str,
        defines: &[&str],
        tls: Option<CertificateFiles<'_>>,
    ) -> Kamailio {
        Self::launch(binary, name, defines, Some(free_port()), tls)
    }

    fn launch(
        binary: &Path,
        name: &str,
        defines: &[&str],
        ws_port: Option<u16>,
        tls: Option<CertificateFiles<'_>>,
    ) -> Kamailio {
        let dir = std::env::temp_dir().join(format!("msrp-kamailio-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a run directory");
        let port = free_port();
        let wss_port = tls.and(ws_port).map(|_| free_port());
        let mut defines: Vec<String> = defines.iter().map(|d| (*d).to_owned()).collect();
        if let Some(ws) = ws_port {
            defines.push("WITH_WS".into());
            defines.push(format!("WS_PORT={ws}"));
        }
        if let (Some(wss), Some(files)) = (wss_port, tls) {
            defines.push("WITH_TLS".into());
            defines.push(format!("WSS_PORT={wss}"));
            defines.push(format!("WSS_CERT=\"{}\"", files.cert.display()));
            defines.push(format!("WSS_KEY=\"{}\"", files.key.display()));
        }
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../interop/kamailio/relay.cfg");
        let pid_file = dir.join("relay.pid");
        let mut command = Command::new(binary);
        command
            .arg("-f")
            .arg(&config)
            .args(["-A", &format!("MSRP_PORT={port}")]);
        for define in &defines {
            command.args(["-A", define]);
        }
        let launcher = command
            .args(["-DD", "-E", "-Y"])
            .arg(&dir)
            .arg("-P")
            .arg(&pid_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run kamailio");
        let relay = Kamailio {
            launcher,
            dir,
            pid_file,
            port,
            ws_port,
            wss_port,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        for port in [Some(port), ws_port, wss_port].into_iter().flatten() {
            while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
                assert!(Instant::now() < deadline, "Kamailio did not listen in 10 s");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        relay
    }

    /// Its WebSocket URI (`msrp://127.0.0.1:PORT;ws`), or the secure one (`msrps:`) when it
    /// has one.
    pub fn ws_uri(&self) -> Option<String> {
        match (self.wss_port, self.ws_port) {
            (Some(port), _) => Some(format!("msrps://127.0.0.1:{port};ws")),
            (None, Some(port)) => Some(format!("msrp://127.0.0.1:{port};ws")),
            _ => None,
        }
    }

    /// Its URI, as clients address their AUTH to it.
    pub fn uri(&self) -> String {
        format!("msrp://127.0.0.1:{};tcp", self.port)
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        // The launcher's pid is not the relay's: the relay is the pid in the pid file.
        if let Ok(pid) = std::fs::read_to_string(&self.pid_file) {
            let pid = pid.trim();
            let _ = Command::new("kill").arg(pid).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.launcher.kill();
        let _ = self.launcher.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
