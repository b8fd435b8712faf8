//! Commands, pipelines, transactions, scripts and errors against a real redis-server.

mod support;

use std::time::Duration;

use opentelemetry::Context;
use opentelemetry::context::FutureExt;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer, TracerProvider};
use opentelemetry_semantic_conventions::attribute as semconv;
use opentelemetry_semantic_conventions::metric;
use otel_redis::{OtelRedis, QueryText, TracedConnection};
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use support::{RedisOptions as _, RedisServer, Telemetry, assert_failed_with, attr, named, span};

async fn connect(
    server: &RedisServer,
    options: &OtelRedis,
) -> TracedConnection<MultiplexedConnection> {
    let client = server.client();
    options.wrap(client.get_multiplexed_async_connection().await.unwrap())
}

#[tokio::test]
async fn commands_get_client_spans_with_sanitized_statements() {
    let server = RedisServer::start();
    let telemetry = Telemetry::new();
    let options = telemetry
        .options(server.port)
        .peer_address(([127, 0, 0, 1], server.port).into());
    let mut con = connect(&server, &options).await;

    let parent = telemetry.tracer_provider.tracer("test").start("parent");
    let cx = Context::current_with_span(parent);
    async {
        let _: () = con.set("user:42", "Ada Lovelace").await.unwrap();
        let name: String = con.get("user:42").await.unwrap();
        assert_eq!(name, "Ada Lovelace");
        let missing: Option<String> = con.get("user:43").await.unwrap();
        assert_eq!(missing, None);
        let _: () = con
            .hset_multiple("h", &[("f", "secret1"), ("g", "secret2")])
            .await
            .unwrap();
        let _: i64 = redis::cmd("del")
            .arg("user:42")
            .arg("h")
            .query_async(&mut con)
            .await
            .unwrap();
    }
    .with_context(cx.clone())
    .await;
    cx.span().end();

    let spans = telemetry.spans();
    let parent_id = span(&spans, "parent").span_context.span_id();
    let set = span(&spans, "SET");
    assert_eq!(set.span_kind, SpanKind::Client);
    assert_eq!(set.parent_span_id, parent_id);
    assert_eq!(attr(set, semconv::DB_SYSTEM_NAME).as_deref(), Some("redis"));
    assert_eq!(
        attr(set, semconv::DB_OPERATION_NAME).as_deref(),
        Some("SET")
    );
    assert_eq!(attr(set, semconv::DB_NAMESPACE).as_deref(), Some("0"));
    assert_eq!(
        attr(set, semconv::DB_QUERY_TEXT).as_deref(),
        Some("SET user:42 ?")
    );
    assert_eq!(
        attr(set, semconv::SERVER_ADDRESS).as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        attr(set, semconv::SERVER_PORT),
        Some(server.port.to_string())
    );
    assert_eq!(
        attr(set, semconv::NETWORK_PEER_ADDRESS).as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        attr(set, semconv::NETWORK_PEER_PORT),
        Some(server.port.to_string())
    );
    assert_eq!(set.status, Status::Unset);

    // A nil reply is not an error.
    let gets = named(&spans, "GET");
    assert_eq!(gets.len(), 2);
    assert!(gets.iter().all(|s| s.status == Status::Unset));
    assert!(gets.iter().all(|s| attr(s, semconv::ERROR_TYPE).is_none()));

    // Peer attributes only when given: here the server address would repeat them.
    let get = named(&spans, "GET")[0];
    assert_eq!(
        attr(get, semconv::NETWORK_PEER_PORT),
        Some(server.port.to_string())
    );
    let hset = span(&spans, "HMSET");
    assert_eq!(
        attr(hset, semconv::DB_QUERY_TEXT).as_deref(),
        Some("HMSET h f ? g ?")
    );
    assert_eq!(
        attr(span(&spans, "DEL"), semconv::DB_QUERY_TEXT).as_deref(),
        Some("DEL user:42 h")
    );
    support::assert_nothing_shows(&spans, &["Ada", "secret"]);

    // Without a peer address, no peer attributes.
    let plain = Telemetry::new();
    let mut con = connect(&server, &plain.options(server.port)).await;
    let _: Option<String> = con.get("user:42").await.unwrap();
    let spans = plain.spans();
    let get = span(&spans, "GET");
    assert_eq!(
        attr(get, semconv::SERVER_ADDRESS).as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(attr(get, semconv::NETWORK_PEER_ADDRESS), None);
    assert_eq!(attr(get, semconv::NETWORK_PEER_PORT), None);
}

#[tokio::test]
async fn pipelines_and_transactions_are_one_span_each() {
    let server = RedisServer::start();
    let telemetry = Telemetry::new();
    let mut con = connect(&server, &telemetry.options(server.port)).await;

    let (a, b): (i64, i64) = redis::pipe()
        .set("a", 1)
        .ignore()
        .set("b", 2)
        .ignore()
        .incr("a", 10)
        .get("b")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!((a, b), (11, 2));
    let (n,): (i64,) = redis::pipe()
        .atomic()
        .incr("a", 1)
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(n, 12);
    let (x, y): (i64, i64) = redis::pipe()
        .atomic()
        .incr("a", 1)
        .incr("b", 1)
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!((x, y), (13, 3));
    // One command in a pipeline is no batch.
    let (single,): (i64,) = redis::pipe().get("a").query_async(&mut con).await.unwrap();
    assert_eq!(single, 13);

    let spans = telemetry.spans();
    let pipeline = span(&spans, "PIPELINE");
    assert_eq!(
        attr(pipeline, semconv::DB_OPERATION_NAME).as_deref(),
        Some("PIPELINE")
    );
    assert_eq!(
        attr(pipeline, semconv::DB_OPERATION_BATCH_SIZE).as_deref(),
        Some("4")
    );
    assert_eq!(
        attr(pipeline, semconv::DB_QUERY_TEXT).as_deref(),
        Some("SET a ?; SET b ?; INCRBY a ?; GET b")
    );
    let multis = named(&spans, "MULTI");
    assert_eq!(multis.len(), 2);
    assert_eq!(attr(multis[0], semconv::DB_OPERATION_BATCH_SIZE), None);
    assert_eq!(
        attr(multis[1], semconv::DB_OPERATION_BATCH_SIZE).as_deref(),
        Some("2")
    );
    assert_eq!(
        attr(multis[1], semconv::DB_QUERY_TEXT).as_deref(),
        Some("INCRBY a ?; INCRBY b ?")
    );
    let get = span(&spans, "GET");
    assert_eq!(attr(get, semconv::DB_OPERATION_BATCH_SIZE), None);
}

#[tokio::test]
async fn scripts_show_keys_not_source_or_arguments() {
    let server = RedisServer::start();
    let telemetry = Telemetry::new();
    let mut con = connect(&server, &telemetry.options(server.port)).await;

    let script = redis::Script::new("return redis.call('SET', KEYS[1], ARGV[1])");
    let _: () = script
        .key("k:1")
        .arg("hidden-value")
        .invoke_async(&mut con)
        .await
        .unwrap();
    let _: () = script
        .key("k:2")
        .arg("hidden-value")
        .invoke_async(&mut con)
        .await
        .unwrap();
    let _: Option<String> = redis::cmd("EVAL")
        .arg("return redis.call('GET', KEYS[1])")
        .arg(1)
        .arg("k:1")
        .query_async(&mut con)
        .await
        .unwrap();

    let spans = telemetry.spans();
    let evalshas = named(&spans, "EVALSHA");
    // First call: NOSCRIPT, then SCRIPT LOAD, then EVALSHA again; second call: EVALSHA.
    assert_eq!(evalshas.len(), 3);
    assert_eq!(
        attr(evalshas[0], semconv::DB_RESPONSE_STATUS_CODE).as_deref(),
        Some("NOSCRIPT")
    );
    assert_eq!(
        attr(evalshas[1], semconv::DB_QUERY_TEXT).as_deref(),
        Some("EVALSHA ? 1 k:1 ?")
    );
    assert_eq!(
        attr(evalshas[2], semconv::DB_QUERY_TEXT).as_deref(),
        Some("EVALSHA ? 1 k:2 ?")
    );
    assert_eq!(
        attr(span(&spans, "SCRIPT"), semconv::DB_QUERY_TEXT).as_deref(),
        Some("SCRIPT LOAD ?")
    );
    assert_eq!(
        attr(span(&spans, "EVAL"), semconv::DB_QUERY_TEXT).as_deref(),
        Some("EVAL ? 1 k:1")
    );
    support::assert_nothing_shows(&spans, &["hidden", "redis.call"]);
}

#[tokio::test]
async fn server_errors_give_their_code() {
    let server = RedisServer::start();
    let telemetry = Telemetry::new();
    let mut con = connect(&server, &telemetry.options(server.port)).await;

    let _: () = con.set("s", "x").await.unwrap();
    let wrongtype: redis::RedisResult<i64> = con.lpush("s", "y").await;
    assert_eq!(wrongtype.unwrap_err().code(), Some("WRONGTYPE"));
    let unknown: redis::RedisResult<()> = redis::cmd("NOSUCHCMD")
        .arg("secret-arg")
        .query_async(&mut con)
        .await;
    assert!(unknown.is_err());
    // In a pipeline, the first error counts: WRONGTYPE here, though ERR follows…
    let piped: redis::RedisResult<(i64, i64, i64)> = redis::pipe()
        .incr("n", 1)
        .lpush("s", "z")
        .incr("s", 1)
        .query_async(&mut con)
        .await;
    assert!(piped.is_err());
    // …and ERR here, though WRONGTYPE follows.
    let piped: redis::RedisResult<(i64, i64, i64)> = redis::pipe()
        .incr("n", 1)
        .incr("s", 1)
        .lpush("s", "z")
        .query_async(&mut con)
        .await;
    assert!(piped.is_err());

    let spans = telemetry.spans();
    assert_failed_with(span(&spans, "LPUSH"), "WRONGTYPE");

    let unknown = span(&spans, "NOSUCHCMD");
    assert_eq!(
        attr(unknown, semconv::DB_RESPONSE_STATUS_CODE).as_deref(),
        Some("ERR")
    );
    assert_eq!(
        attr(unknown, semconv::DB_QUERY_TEXT).as_deref(),
        Some("NOSUCHCMD")
    );
    // The server's message echoes the arguments: it is not recorded.
    for s in &spans {
        assert!(s.events.is_empty());
    }
    support::assert_nothing_shows(&spans, &["secret"]);

    let pipelines = named(&spans, "PIPELINE");
    assert_eq!(pipelines.len(), 2);
    for (pipeline, first) in pipelines.into_iter().zip(["WRONGTYPE", "ERR"]) {
        assert_eq!(attr(pipeline, semconv::ERROR_TYPE).as_deref(), Some(first));
        assert_eq!(
            attr(pipeline, semconv::DB_RESPONSE_STATUS_CODE).as_deref(),
            Some(first)
        );
        assert!(matches!(pipeline.status, Status::Error { .. }));
    }

    let (_, _, points) = telemetry.histogram(metric::DB_CLIENT_OPERATION_DURATION);
    let unknown_point = points
        .iter()
        .find(|(a, _)| a.get(semconv::DB_OPERATION_NAME).map(String::as_str) == Some("_OTHER"))
        .expect("unknown command bounded to _OTHER");
    assert_eq!(
        unknown_point.0.get(semconv::ERROR_TYPE).map(String::as_str),
        Some("ERR")
    );
    for first in ["WRONGTYPE", "ERR"] {
        let point = points
            .iter()
            .find(|(a, _)| {
                a.get(semconv::DB_OPERATION_NAME).map(String::as_str) == Some("PIPELINE")
                    && a.get(semconv::ERROR_TYPE).map(String::as_str) == Some(first)
            })
            .unwrap_or_else(|| panic!("a PIPELINE point with error.type {first}: {points:?}"));
        assert_eq!(point.1, 1);
    }
}

#[tokio::test]
async fn timeouts_and_cancellations_end_their_spans() {
    let server = RedisServer::start();
    let telemetry = Telemetry::new();
    let mut con = connect(&server, &telemetry.options(server.port)).await;
    con.get_mut()
        .set_response_timeout(Duration::from_millis(100));

    let timed_out: redis::RedisResult<Option<(String, String)>> =
        con.blpop("empty-list", 5.0).await;
    assert!(timed_out.unwrap_err().is_timeout());

    // A caller's own timeout drops the request future.
    con.get_mut().set_response_timeout(Duration::from_secs(30));
    let mut other = con.clone();
    let dropped = tokio::time::timeout(Duration::from_millis(100), async move {
        let _: Option<(String, String)> = other.brpop("empty-list", 2.0).await.unwrap();
    })
    .await;
    assert!(dropped.is_err());

    let spans = telemetry.spans();
    let blpop = span(&spans, "BLPOP");
    assert_eq!(attr(blpop, semconv::ERROR_TYPE).as_deref(), Some("timeout"));
    assert_eq!(attr(blpop, semconv::DB_RESPONSE_STATUS_CODE), None);
    let brpop = span(&spans, "BRPOP");
    assert_eq!(
        attr(brpop, semconv::ERROR_TYPE).as_deref(),
        Some("cancelled")
    );
}

#[test]
fn connection_refused_is_recorded() {
    let telemetry = Telemetry::new();
    let port = support::free_port();
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
    // A sync `Client` connects per command: the failure happens inside the traced call.
    let mut con = telemetry.options(port).wrap(client);
    let result: redis::RedisResult<Option<String>> = redis::cmd("GET").arg("k").query(&mut con);
    assert!(result.unwrap_err().is_connection_refusal());

    let spans = telemetry.spans();
    let get = span(&spans, "GET");
    assert_eq!(
        attr(get, semconv::ERROR_TYPE).as_deref(),
        Some("connection_refused")
    );
    assert!(matches!(get.status, Status::Error { .. }));
}

#[tokio::test]
async fn a_stopped_server_fails_the_command_not_the_caller() {
    let mut server = RedisServer::start();
    let telemetry = Telemetry::new();
    let mut con = connect(&server, &telemetry.options(server.port)).await;
    let _: () = con.set("k", "v").await.unwrap();
    server.stop();
    let result: redis::RedisResult<Option<String>> = con.get("k").await;
    assert!(result.is_err());
    let spans = telemetry.spans();
    let get = span(&spans, "GET");
    assert!(attr(get, semconv::ERROR_TYPE).is_some());
    assert!(matches!(get.status, Status::Error { .. }));
}

#[tokio::test]
async fn passwords_appear_in_no_exported_attribute_or_event() {
    const PASSWORD: &str = "s3cret-PW-0xC0FFEE";
    let server = RedisServer::start_with(&["--requirepass", PASSWORD]);
    let telemetry = Telemetry::new();
    let client =
        redis::Client::open(format!("redis://:{PASSWORD}@127.0.0.1:{}/", server.port)).unwrap();
    for mode in [QueryText::Sanitized, QueryText::KeysMasked] {
        let options = OtelRedis::for_client(&client)
            .tracer_provider(telemetry.tracer_provider.clone())
            .meter_provider(telemetry.meter_provider.clone())
            .query_text(mode)
            .key_pattern(true);
        let mut con = options.wrap(client.get_multiplexed_async_connection().await.unwrap());
        let _: () = redis::cmd("AUTH")
            .arg(PASSWORD)
            .query_async(&mut con)
            .await
            .unwrap();
        let _: () = redis::cmd("AUTH")
            .arg("default")
            .arg(PASSWORD)
            .query_async(&mut con)
            .await
            .unwrap();
        let wrong: redis::RedisResult<()> = redis::cmd("AUTH")
            .arg(format!("{PASSWORD}x"))
            .query_async(&mut con)
            .await;
        assert_eq!(wrong.unwrap_err().code(), Some("WRONGPASS"));
        let _: redis::Value = redis::cmd("HELLO")
            .arg(2)
            .arg("AUTH")
            .arg("default")
            .arg(PASSWORD)
            .query_async(&mut con)
            .await
            .unwrap();
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("requirepass")
            .arg(PASSWORD)
            .query_async(&mut con)
            .await
            .unwrap();
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("masterauth")
            .arg(PASSWORD)
            .query_async(&mut con)
            .await
            .unwrap();
        let _: () = redis::cmd("ACL")
            .arg("SETUSER")
            .arg("bob")
            .arg("on")
            .arg(format!(">{PASSWORD}"))
            .arg("~*")
            .arg("+@all")
            .query_async(&mut con)
            .await
            .unwrap();
        let migrate: redis::RedisResult<redis::Value> = redis::cmd("MIGRATE")
            .arg("127.0.0.1")
            .arg(support::free_port())
            .arg("nokey")
            .arg(0)
            .arg(100)
            .arg("AUTH")
            .arg(PASSWORD)
            .query_async(&mut con)
            .await;
        let _ = migrate;
        let _: (String,) = redis::pipe()
            .cmd("AUTH")
            .arg(PASSWORD)
            .ignore()
            .cmd("PING")
            .query_async(&mut con)
            .await
            .unwrap();
    }

    let spans = telemetry.spans();
    assert!(spans.len() >= 18);
    support::assert_nothing_shows(&spans, &[PASSWORD, "s3cret"]);
    assert_eq!(
        attr(named(&spans, "AUTH")[0], semconv::DB_QUERY_TEXT).as_deref(),
        Some("AUTH")
    );
    assert_eq!(
        attr(named(&spans, "HELLO")[0], semconv::DB_QUERY_TEXT).as_deref(),
        Some("HELLO")
    );
    assert_eq!(
        attr(named(&spans, "ACL")[0], semconv::DB_QUERY_TEXT).as_deref(),
        Some("ACL SETUSER ? ? ? ? ?")
    );
    let values = telemetry.all_metric_attribute_values();
    assert!(!values.is_empty());
    assert!(values.iter().all(|v| !v.contains("s3cret")));
}

#[tokio::test]
async fn statement_modes_truncation_and_key_patterns() {
    let server = RedisServer::start();
    let telemetry = Telemetry::new();
    let masked = telemetry
        .options(server.port)
        .query_text(QueryText::KeysMasked)
        .key_pattern(true);
    let off = telemetry.options(server.port).query_text(QueryText::Off);
    let short = telemetry.options(server.port).max_query_text_len(12);
    let client = server.client();
    let raw = client.get_multiplexed_async_connection().await.unwrap();
    let mut masked = masked.wrap(raw.clone());
    let mut off = off.wrap(raw.clone());
    let mut short = short.wrap(raw);

    let _: () = masked.set("user:42:profile", "v").await.unwrap();
    let _: () = masked
        .set("session:4bf92f35-77b3-4da6-a3ce-929d0e0e4736", "v")
        .await
        .unwrap();
    let _: () = off.set("x", "v").await.unwrap();
    let huge_key = vec![0xffu8; 100_000];
    let _: () = short.set(&huge_key, "v").await.unwrap();

    let spans = telemetry.spans();
    let sets = named(&spans, "SET");
    assert_eq!(
        attr(sets[0], semconv::DB_QUERY_TEXT).as_deref(),
        Some("SET ? ?")
    );
    assert_eq!(
        attr(sets[0], otel_redis::KEY_PATTERN).as_deref(),
        Some("user:*:profile")
    );
    assert_eq!(
        attr(sets[1], otel_redis::KEY_PATTERN).as_deref(),
        Some("session:*")
    );
    assert_eq!(attr(sets[2], semconv::DB_QUERY_TEXT), None);
    let cut = attr(sets[3], semconv::DB_QUERY_TEXT).unwrap();
    assert!(
        cut.len() <= 12 && cut.starts_with("SET \u{FFFD}"),
        "{cut:?}"
    );
    assert_eq!(attr(sets[3], otel_redis::KEY_PATTERN), None);
}

#[tokio::test]
async fn metrics_follow_the_database_conventions() {
    let server = RedisServer::start();
    let telemetry = Telemetry::new();
    let mut con = connect(&server, &telemetry.options(server.port)).await;
    for _ in 0..3 {
        let _: Option<String> = con.get("k").await.unwrap();
    }
    let _: () = redis::pipe()
        .set("k", 1)
        .ignore()
        .get("k")
        .ignore()
        .query_async(&mut con)
        .await
        .unwrap();
    let _: redis::RedisResult<()> = redis::cmd("MADE-UP").query_async(&mut con).await;

    let (unit, bounds, points) = telemetry.histogram(metric::DB_CLIENT_OPERATION_DURATION);
    assert_eq!(unit, "s");
    assert_eq!(bounds, otel_redis::DURATION_BUCKETS.to_vec());
    let get = points
        .iter()
        .find(|(a, _)| a.get(semconv::DB_OPERATION_NAME).map(String::as_str) == Some("GET"))
        .unwrap();
    assert_eq!(get.1, 3);
    let expected = [
        (semconv::DB_SYSTEM_NAME, "redis".to_owned()),
        (semconv::DB_NAMESPACE, "0".to_owned()),
        (semconv::SERVER_ADDRESS, "127.0.0.1".to_owned()),
        (semconv::SERVER_PORT, server.port.to_string()),
    ];
    for (key, value) in &expected {
        assert_eq!(get.0.get(*key), Some(value), "{key}");
    }
    assert_eq!(get.0.len(), 5, "{:?}", get.0);
    assert!(points.iter().any(
        |(a, n)| a.get(semconv::DB_OPERATION_NAME).map(String::as_str) == Some("PIPELINE")
            && *n == 1
    ));
    assert!(
        points
            .iter()
            .any(|(a, _)| a.get(semconv::DB_OPERATION_NAME).map(String::as_str) == Some("_OTHER"))
    );
}

#[tokio::test]
async fn traces_and_metrics_switch_off() {
    let server = RedisServer::start();
    let telemetry = Telemetry::new();
    let options = telemetry.options(server.port).traces(false).metrics(false);
    let mut con = connect(&server, &options).await;
    let _: Option<String> = con.get("k").await.unwrap();
    assert!(telemetry.spans().is_empty());
    telemetry.meter_provider.force_flush().unwrap();
    for exported in telemetry.metrics.get_finished_metrics().unwrap() {
        let metrics: Vec<_> = exported
            .scope_metrics()
            .flat_map(|scope| scope.metrics())
            .map(|metric| metric.name().to_owned())
            .collect();
        assert!(metrics.is_empty(), "metrics exported: {metrics:?}");
    }
    assert!(telemetry.all_metric_attribute_values().is_empty());
}

#[test]
fn sync_connections_are_traced_too() {
    let server = RedisServer::start();
    let telemetry = Telemetry::new();
    let client = server.client();
    let mut con = OtelRedis::for_client(&client)
        .tracer_provider(telemetry.tracer_provider.clone())
        .meter_provider(telemetry.meter_provider.clone())
        .wrap(client.get_connection().unwrap());
    use redis::Commands;
    let _: () = con.set("user:1", "secret").unwrap();
    let v: String = con.get("user:1").unwrap();
    assert_eq!(v, "secret");
    let (a, b): (i64, i64) = redis::pipe()
        .incr("n", 1)
        .incr("n", 2)
        .query(&mut con)
        .unwrap();
    assert_eq!((a, b), (1, 3));
    let (c, d): (i64, i64) = redis::pipe()
        .atomic()
        .incr("n", 1)
        .incr("m", 1)
        .query(&mut con)
        .unwrap();
    assert_eq!((c, d), (4, 1));
    let bad: redis::RedisResult<i64> = con.lpush("user:1", "x");
    assert!(bad.is_err());
    // Packed bytes straight to the connection: read back in place.
    let packed = redis::cmd("STRLEN").arg("user:1").get_packed_command();
    let len = redis::ConnectionLike::req_packed_command(&mut con, &packed).unwrap();
    assert_eq!(len, redis::Value::Int(6));

    let spans = telemetry.spans();
    assert_eq!(
        attr(span(&spans, "STRLEN"), semconv::DB_QUERY_TEXT).as_deref(),
        Some("STRLEN user:1")
    );
    assert_eq!(
        attr(span(&spans, "SET"), semconv::DB_QUERY_TEXT).as_deref(),
        Some("SET user:1 ?")
    );
    assert_eq!(
        attr(span(&spans, "PIPELINE"), semconv::DB_QUERY_TEXT).as_deref(),
        Some("INCRBY n ?; INCRBY n ?")
    );
    let multi = span(&spans, "MULTI");
    assert_eq!(
        attr(multi, semconv::DB_OPERATION_BATCH_SIZE).as_deref(),
        Some("2")
    );
    assert_eq!(
        attr(multi, semconv::DB_QUERY_TEXT).as_deref(),
        Some("INCRBY n ?; INCRBY m ?")
    );
    assert_eq!(
        attr(span(&spans, "LPUSH"), semconv::ERROR_TYPE).as_deref(),
        Some("WRONGTYPE")
    );
    assert_eq!(
        attr(span(&spans, "SET"), semconv::SERVER_PORT),
        Some(server.port.to_string())
    );
}

#[tokio::test]
async fn connection_managers_are_wrapped_the_same_way() {
    let server = RedisServer::start();
    let telemetry = Telemetry::new();
    let manager = redis::aio::ConnectionManager::new(server.client())
        .await
        .unwrap();
    let mut con = telemetry.options(server.port).wrap(manager);
    let _: () = con.set("k", "v").await.unwrap();
    let (v,): (String,) = redis::pipe().get("k").query_async(&mut con).await.unwrap();
    assert_eq!(v, "v");
    let spans = telemetry.spans();
    assert_eq!(
        attr(span(&spans, "SET"), semconv::DB_QUERY_TEXT).as_deref(),
        Some("SET k ?")
    );
    assert_eq!(
        attr(span(&spans, "GET"), semconv::DB_QUERY_TEXT).as_deref(),
        Some("GET k")
    );
}

#[tokio::test]
async fn filtered_operations_record_nothing() {
    let server = RedisServer::start();
    let telemetry = Telemetry::new();
    let options = telemetry
        .options(server.port)
        .filter(|name| name != "PING" && name != "PIPELINE");
    let mut con = connect(&server, &options).await;
    let _: String = redis::cmd("PING").query_async(&mut con).await.unwrap();
    let _: () = redis::pipe()
        .set("a", 1)
        .ignore()
        .set("b", 2)
        .ignore()
        .query_async(&mut con)
        .await
        .unwrap();
    let _: Option<String> = con.get("a").await.unwrap();
    let spans = telemetry.spans();
    assert_eq!(
        spans.iter().map(|s| s.name.as_ref()).collect::<Vec<_>>(),
        vec!["GET"]
    );
    let (_, _, points) = telemetry.histogram(metric::DB_CLIENT_OPERATION_DURATION);
    assert_eq!(points.len(), 1);
}
