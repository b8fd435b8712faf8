//! Real servers as child processes on 127.0.0.1: a free port, waiting for it to listen, and
//! stopping the process when the fixture is dropped.

use std::net::{TcpListener, TcpStream};
use std::process::Child;
use std::time::{Duration, Instant};

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Whether something accepts connections on `127.0.0.1:{port}`.
pub fn listening(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// A child server process, killed (and reaped) when dropped.
pub struct ChildServer {
    child: Child,
}

impl ChildServer {
    /// Takes ownership of `child`.
    pub fn new(child: Child) -> Self {
        ChildServer { child }
    }

    /// Waits until the process listens on `port` (`true`), or exits or `timeout` passes
    /// (`false`).
    pub fn wait_listening(&mut self, port: u16, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if listening(port) {
                return true;
            }
            if self.child.try_wait().ok().flatten().is_some() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Stops the process now.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        self.stop();
    }
}
