//! A Kafka test's application in a child process: the test binary itself,
//! asked to run its ignored test `child_app`, which reads its configuration
//! from an environment variable the parent sets.

use std::process::{Child, Command, Stdio};

/// The child application; killed if the test ends (or fails) first, so a
/// failed run leaves no process retrying a stopped broker.
pub struct ChildApp(pub Child);

impl Drop for ChildApp {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The command running this binary's `child_app` with `var` set to `config`.
pub fn child_command(var: &str, config: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--ignored", "--exact", "child_app", "--nocapture"])
        .env(var, config)
        .stdin(Stdio::null());
    command
}
