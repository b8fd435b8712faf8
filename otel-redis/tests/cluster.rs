//! The wrapper over redis-rs's async cluster connection (`cluster_async::ClusterConnection`),
//! against a real three-node Redis Cluster on 127.0.0.1.
//!
//! The cluster connection routes each command to the node that holds its keys' slot inside
//! redis-rs, out of the wrapper's sight: the wrapper cannot tell which node served a command. So
//! cluster connections are wrapped without a server address, and their spans carry no
//! `server.address`/`server.port` (a seed node's address would be wrong for every command routed
//! elsewhere); everything else is recorded as on a single server.

mod support;

use std::collections::BTreeSet;

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_semantic_conventions::attribute as semconv;
use otel_redis::{OtelRedis, TracedConnection};
use redis::AsyncCommands;
use redis::cluster_async::ClusterConnection;
use support::{RedisCluster, Telemetry, assert_failed_with, attr, named, span};

/// A traced connection to `cluster`, recording into `telemetry`, with no server address.
async fn connect(
    cluster: &RedisCluster,
    telemetry: &Telemetry,
) -> TracedConnection<ClusterConnection> {
    let client = redis::cluster::ClusterClient::new(cluster.urls()).unwrap();
    OtelRedis::new()
        .tracer_provider(telemetry.tracer_provider.clone())
        .meter_provider(telemetry.meter_provider.clone())
        .wrap(client.get_async_connection().await.unwrap())
}

/// One key held by each node of `cluster`: `user:N` for the first N that lands on it.
fn key_per_node(cluster: &RedisCluster) -> Vec<(String, u16)> {
    let mut keys: Vec<(String, u16)> = Vec::new();
    for n in 0..1000 {
        let key = format!("user:{n}");
        let owner = cluster.owner(&key);
        if keys.iter().all(|(_, port)| *port != owner) {
            keys.push((key, owner));
        }
        if keys.len() == cluster.nodes.len() {
            return keys;
        }
    }
    panic!("no key for every node among user:0..1000");
}

/// The attributes a cluster span must have and must not have.
fn assert_cluster_span(s: &opentelemetry_sdk::trace::SpanData, operation: &str, statement: &str) {
    assert_eq!(s.span_kind, SpanKind::Client, "{}", s.name);
    assert_eq!(attr(s, semconv::DB_SYSTEM_NAME).as_deref(), Some("redis"));
    assert_eq!(
        attr(s, semconv::DB_OPERATION_NAME).as_deref(),
        Some(operation)
    );
    assert_eq!(attr(s, semconv::DB_QUERY_TEXT).as_deref(), Some(statement));
    // A cluster has database 0 only.
    assert_eq!(attr(s, semconv::DB_NAMESPACE).as_deref(), Some("0"));
    // The wrapper does not see which node served the command: it claims none.
    for absent in [
        semconv::SERVER_ADDRESS,
        semconv::SERVER_PORT,
        semconv::NETWORK_PEER_ADDRESS,
        semconv::NETWORK_PEER_PORT,
    ] {
        assert_eq!(attr(s, absent), None, "{absent} on {statement}");
    }
}

#[tokio::test]
async fn commands_on_every_node_get_client_spans() {
    let cluster = RedisCluster::start();
    let telemetry = Telemetry::new();
    let mut con = connect(&cluster, &telemetry).await;
    let keys = key_per_node(&cluster);

    for (key, _) in &keys {
        let _: () = con.set(key, "Ada Lovelace").await.unwrap();
    }
    for (key, _) in &keys {
        let value: String = con.get(key).await.unwrap();
        assert_eq!(value, "Ada Lovelace");
    }
    let missing: Option<String> = con.get("nobody").await.unwrap();
    assert_eq!(missing, None);

    // The commands really went to three different nodes: each node holds its key.
    let owners: BTreeSet<u16> = keys.iter().map(|(_, port)| *port).collect();
    assert_eq!(owners.len(), 3);
    for (key, port) in &keys {
        let node = cluster.nodes.iter().find(|n| n.port == *port).unwrap();
        let mut direct = node.client().get_connection().unwrap();
        let held: i64 = redis::cmd("EXISTS").arg(key).query(&mut direct).unwrap();
        assert_eq!(held, 1, "{key} on 127.0.0.1:{port}");
    }

    let spans = telemetry.spans();
    let sets = named(&spans, "SET");
    let gets = named(&spans, "GET");
    assert_eq!(sets.len(), 3);
    assert_eq!(gets.len(), 4);
    for (key, _) in &keys {
        let statement = format!("SET {key} ?");
        let set = with_statement(&sets, &statement);
        assert_cluster_span(set, "SET", &statement);
        assert_eq!(set.status, Status::Unset);
        let statement = format!("GET {key}");
        assert_cluster_span(with_statement(&gets, &statement), "GET", &statement);
    }
    // A nil reply is no error, on a cluster too.
    assert!(gets.iter().all(|s| s.status == Status::Unset));
    support::assert_nothing_shows(&spans, &["Ada"]);
}

#[tokio::test]
async fn pipelines_transactions_and_errors_on_a_cluster() {
    let cluster = RedisCluster::start();
    let telemetry = Telemetry::new();
    let mut con = connect(&cluster, &telemetry).await;

    // Keys with one hash tag share a slot: a pipeline and a transaction on one node.
    let replies: (String, i64) = redis::pipe()
        .cmd("SET")
        .arg("{user:1}:name")
        .arg("Ada")
        .ignore()
        .cmd("GET")
        .arg("{user:1}:name")
        .cmd("INCR")
        .arg("{user:1}:visits")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(replies, ("Ada".to_owned(), 1));
    let (visits,): (i64,) = redis::pipe()
        .atomic()
        .cmd("INCR")
        .arg("{user:1}:visits")
        .cmd("EXPIRE")
        .arg("{user:1}:visits")
        .arg(60)
        .ignore()
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(visits, 2);

    // A server error from the node that holds the key.
    let wrong: redis::RedisResult<i64> = con.lpush("{user:1}:name", "x").await;
    assert_eq!(wrong.unwrap_err().code(), Some("WRONGTYPE"));
    // Keys in different slots cannot share a pipeline: redis-rs refuses it before sending.
    let crossed: redis::RedisResult<(Option<String>, Option<String>)> = redis::pipe()
        .cmd("GET")
        .arg("{a}x")
        .cmd("GET")
        .arg("{b}x")
        .query_async(&mut con)
        .await;
    assert!(crossed.is_err());

    let spans = telemetry.spans();
    let pipelines = named(&spans, "PIPELINE");
    assert_eq!(pipelines.len(), 2);
    let pipeline = pipelines
        .iter()
        .find(|s| s.status == Status::Unset)
        .expect("the same-slot pipeline succeeded");
    assert_cluster_span(
        pipeline,
        "PIPELINE",
        "SET {user:1}:name ?; GET {user:1}:name; INCR {user:1}:visits",
    );
    assert_eq!(
        attr(pipeline, semconv::DB_OPERATION_BATCH_SIZE).as_deref(),
        Some("3")
    );

    let multi = span(&spans, "MULTI");
    assert_cluster_span(
        multi,
        "MULTI",
        "INCR {user:1}:visits; EXPIRE {user:1}:visits ?",
    );
    assert_eq!(
        attr(multi, semconv::DB_OPERATION_BATCH_SIZE).as_deref(),
        Some("2")
    );
    assert_eq!(multi.status, Status::Unset);

    let lpush = span(&spans, "LPUSH");
    assert_cluster_span(lpush, "LPUSH", "LPUSH {user:1}:name ?");
    assert_failed_with(lpush, "WRONGTYPE");

    // The refused pipeline: a failed span with the code redis-rs gives its error, Redis's own
    // `CROSSSLOT` (what a node would have answered).
    let refused = pipelines
        .iter()
        .find(|s| s.status != Status::Unset)
        .expect("the cross-slot pipeline failed");
    assert_cluster_span(refused, "PIPELINE", "GET {a}x; GET {b}x");
    assert_eq!(
        attr(refused, semconv::ERROR_TYPE).as_deref(),
        Some("CROSSSLOT")
    );
    assert!(matches!(refused.status, Status::Error { .. }));
}

/// The span among `spans` whose `db.query.text` is `statement`.
fn with_statement<'a>(spans: &[&'a SpanData], statement: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|s| attr(s, semconv::DB_QUERY_TEXT).as_deref() == Some(statement))
        .unwrap_or_else(|| panic!("no span for {statement}"))
}
