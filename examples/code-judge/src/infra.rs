//! The servers the demo runs its services against, started on 127.0.0.1 and stopped on drop: a
//! real `redis-server` (found on `PATH`, or installed from Debian's packages when missing) and
//! librdkafka's mock Kafka cluster (in this process, serving the Kafka protocol on real sockets).

use std::io;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use integration_tests::process::{ChildServer, free_port, listening};

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

/// The Kafka topic jobs go to.
pub const EXECUTION_TOPIC: &str = "code-execution";
/// The Kafka topic verdicts come back on.
pub const RESULT_TOPIC: &str = "code-result";

/// Waits until something accepts connections on `port`, up to `timeout`.
pub fn wait_for_port(port: u16, timeout: Duration) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    while !listening(port) {
        if Instant::now() >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("nothing listens on 127.0.0.1:{port}"),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// A `redis-server` child process on a free port of 127.0.0.1, killed on drop.
pub struct RedisServer {
    _server: ChildServer,
    /// Its port.
    pub port: u16,
}

impl RedisServer {
    /// Starts one: no persistence, loopback only.
    pub fn start() -> io::Result<RedisServer> {
        let binary = find_or_install("redis-server", "redis-server")?;
        let port = free_port();
        let child = Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut server = ChildServer::new(child);
        if !server.wait_listening(port, Duration::from_secs(10)) {
            return Err(io::Error::other(format!(
                "redis-server did not listen on 127.0.0.1:{port} (exited, or not within 10 s)"
            )));
        }
        Ok(RedisServer {
            _server: server,
            port,
        })
    }

    /// Its URL, for `redis::Client::open`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

/// `program` from `PATH`, else installed with apt-get (Debian's `package`).
fn find_or_install(program: &str, package: &str) -> io::Result<String> {
    let found = |program: &str| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(program))
                .find(|path| path.is_file())
        })
    };
    if let Some(path) = found(program) {
        return Ok(path.to_string_lossy().into_owned());
    }
    eprintln!("{program} not found: installing Debian's {package}");
    let root = Command::new("id").arg("-u").output()?.stdout == b"0\n";
    let run = |args: &[&str]| -> io::Result<()> {
        let mut command = if root {
            Command::new(args[0])
        } else {
            let mut sudo = Command::new("sudo");
            sudo.arg(args[0]);
            sudo
        };
        let status = command
            .args(&args[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "{} failed: {status}",
                args.join(" ")
            )))
        }
    };
    run(&["apt-get", "update", "-qq"])?;
    run(&[
        "apt-get",
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
        package,
    ])?;
    found(program)
        .map(|p| p.to_string_lossy().into_owned())
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{program} not installed")))
}

/// librdkafka's mock cluster with the demo's topics, alive until dropped.
pub struct MockKafka {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl std::fmt::Debug for MockKafka {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockKafka")
            .field("bootstrap_servers", &self.bootstrap_servers())
            .finish()
    }
}

impl MockKafka {
    /// One broker, the demo's two topics with one partition each.
    pub fn start() -> io::Result<MockKafka> {
        let cluster = MockCluster::new(1).map_err(io::Error::other)?;
        for topic in [EXECUTION_TOPIC, RESULT_TOPIC] {
            cluster
                .create_topic(topic, 1, 1)
                .map_err(io::Error::other)?;
        }
        Ok(MockKafka { cluster })
    }

    /// `bootstrap.servers` for clients in any process on this machine.
    pub fn bootstrap_servers(&self) -> String {
        self.cluster.bootstrap_servers()
    }
}
