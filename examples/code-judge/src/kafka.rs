//! The Kafka side the demo's services share: the job and verdict messages, and client settings.

use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};

/// A job on `code-execution`: code to run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    /// The submission it belongs to (also the record key).
    pub submission_id: String,
    /// The problem.
    pub problem_id: String,
    /// The language.
    pub language: String,
    /// The code.
    pub code: String,
}

/// A verdict on `code-result`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Verdict {
    /// The submission it answers.
    pub submission_id: String,
    /// `ACCEPTED`, `WRONG_ANSWER`, `RUNTIME_ERROR`.
    pub verdict: String,
    /// What the run said.
    pub detail: String,
}

/// Settings for a producer talking to `bootstrap_servers`.
pub fn producer_config(bootstrap_servers: &str, client_id: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap_servers)
        .set("client.id", client_id)
        .set("message.timeout.ms", "10000")
        .set("linger.ms", "0");
    config
}

/// Settings for a consumer of group `group` (joins the group and starts from the earliest
/// offset it has not committed).
pub fn consumer_config(bootstrap_servers: &str, client_id: &str, group: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap_servers)
        .set("client.id", client_id)
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500")
        // A job waits for no more than this in the broker before it is fetched.
        .set("fetch.wait.max.ms", "20");
    config
}
