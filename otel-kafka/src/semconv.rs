//! The messaging semantic conventions for Kafka: attribute values and `error.type`.

use std::any::Any;
use std::borrow::Cow;
use std::error::Error;
use std::sync::Mutex;

use opentelemetry::{KeyValue, Value};
use opentelemetry_semantic_conventions::attribute as semconv;
use otel_core::OTHER;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::options::MessageHead;

/// `messaging.operation.type` / `messaging.operation.name` values.
pub(crate) const SEND: &str = "send";
pub(crate) const PROCESS: &str = "process";
pub(crate) const RECEIVE: &str = "receive";
pub(crate) const POLL: &str = "poll";

/// `{operation} {topic}`.
pub(crate) fn span_name(operation: &str, topic: &str) -> Cow<'static, str> {
    let mut name = String::with_capacity(operation.len() + 1 + topic.len());
    name.push_str(operation);
    name.push(' ');
    name.push_str(topic);
    Cow::Owned(name)
}

/// The attributes a message gives a span: destination, partition, offset, key, body size,
/// tombstone.
pub(crate) fn message_attributes(
    attributes: &mut Vec<KeyValue>,
    head: &MessageHead<'_>,
    record_key: bool,
) {
    attributes.push(destination(head.topic));
    if let Some(partition) = head.partition {
        attributes.push(partition_id(partition));
    }
    if let Some(offset) = head.offset {
        attributes.push(KeyValue::new(semconv::MESSAGING_KAFKA_OFFSET, offset));
    }
    if let (true, Some(key)) = (record_key, head.key)
        && let Ok(key) = std::str::from_utf8(key)
    {
        attributes.push(KeyValue::new(
            semconv::MESSAGING_KAFKA_MESSAGE_KEY,
            key.to_owned(),
        ));
    }
    match head.payload {
        Some(payload) => attributes.push(KeyValue::new(
            semconv::MESSAGING_MESSAGE_BODY_SIZE,
            payload.len() as i64,
        )),
        None => attributes.push(KeyValue::new(
            semconv::MESSAGING_KAFKA_MESSAGE_TOMBSTONE,
            true,
        )),
    }
}

/// Partition ids as text, made at compile time: most topics have fewer partitions than this.
const PARTITION_IDS: [&str; 64] = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
    "17", "18", "19", "20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30", "31", "32",
    "33", "34", "35", "36", "37", "38", "39", "40", "41", "42", "43", "44", "45", "46", "47", "48",
    "49", "50", "51", "52", "53", "54", "55", "56", "57", "58", "59", "60", "61", "62", "63",
];

/// `messaging.destination.partition.id` (a string in the conventions).
pub(crate) fn partition_id(partition: i32) -> KeyValue {
    let value = match usize::try_from(partition)
        .ok()
        .and_then(|p| PARTITION_IDS.get(p))
    {
        Some(id) => Value::from(*id),
        None => Value::from(partition.to_string()),
    };
    KeyValue::new(semconv::MESSAGING_DESTINATION_PARTITION_ID, value)
}

/// `messaging.destination.name`.
pub(crate) fn destination(topic: &str) -> KeyValue {
    KeyValue::new(semconv::MESSAGING_DESTINATION_NAME, topic.to_owned())
}

/// The name of an rdkafka error code (`MessageTimedOut`, `UnknownTopicOrPartition`), made
/// `'static` once per code: the codes are a closed set, so the names are too.
pub(crate) fn code_name(code: RDKafkaErrorCode) -> &'static str {
    static NAMES: Mutex<Vec<(RDKafkaErrorCode, &'static str)>> = Mutex::new(Vec::new());
    let Ok(mut names) = NAMES.lock() else {
        return OTHER;
    };
    if let Some((_, name)) = names.iter().find(|(c, _)| *c == code) {
        return name;
    }
    let name: &'static str = Box::leak(format!("{code:?}").into_boxed_str());
    names.push((code, name));
    name
}

/// `error.type` of a Kafka error: its `RDKafkaErrorCode` name, else the kind of failure.
pub(crate) fn kafka_error_type(error: &KafkaError) -> &'static str {
    match error.rdkafka_error_code() {
        Some(code) => code_name(code),
        None => match error {
            KafkaError::Canceled => "Canceled",
            KafkaError::NoMessageReceived => "NoMessageReceived",
            KafkaError::PartitionEOF(_) => "PartitionEOF",
            _ => OTHER,
        },
    }
}

fn classify(error: &(dyn Error + 'static)) -> Option<&'static str> {
    error.downcast_ref::<KafkaError>().map(kafka_error_type)
}

/// `error.type` of a handler's error: a Kafka error's code name, an I/O error's kind, found
/// anywhere in the `source()` chain of the error types handlers return; else `_OTHER`.
pub(crate) fn handler_error_type(error: &(dyn Any + 'static)) -> &'static str {
    let dyn_error = otel_core::std_error(error).or_else(|| {
        error
            .downcast_ref::<KafkaError>()
            .map(|e| e as &(dyn Error + 'static))
    });
    dyn_error.map_or(OTHER, |e| otel_core::error_type_with(e, classify))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types() {
        let timeout = KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut);
        assert_eq!(kafka_error_type(&timeout), "MessageTimedOut");
        assert!(std::ptr::eq(
            kafka_error_type(&timeout),
            kafka_error_type(&timeout)
        ));
        let boxed: Box<dyn Error + Send + Sync> = Box::new(timeout.clone());
        assert_eq!(handler_error_type(&boxed), "MessageTimedOut");
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(handler_error_type(&io), "connection_refused");
        assert_eq!(handler_error_type(&"text"), OTHER);
        assert_eq!(kafka_error_type(&KafkaError::Canceled), "Canceled");
    }

    #[test]
    fn names_and_partition_ids() {
        assert_eq!(span_name(SEND, "orders"), "send orders");
        assert_eq!(span_name(PROCESS, "orders"), "process orders");
        assert_eq!(span_name(RECEIVE, "orders"), "receive orders");
        let long = "t".repeat(300);
        assert_eq!(span_name(SEND, &long), format!("send {long}"));
        assert_eq!(destination(&long).value.as_str(), long.as_str());
        for (partition, text) in [(0, "0"), (63, "63"), (64, "64"), (-1, "-1")] {
            assert_eq!(partition_id(partition).value.as_str(), text);
        }
    }
}
