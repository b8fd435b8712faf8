//! One operation in flight (a command, a pipeline, a transaction): its CLIENT span and its
//! `db.client.operation.duration`, started before the request goes out and ended with its reply.
//! Shared by the async and sync connections.

use std::borrow::Cow;
use std::time::Instant;

use opentelemetry::global::BoxedSpan;
use opentelemetry::trace::{Span, SpanKind, Status};
use opentelemetry::{Context, KeyValue};
use opentelemetry_semantic_conventions::attribute as semconv;

use crate::command::{Command, lookup};
use crate::options::Config;
use crate::semconv::{Failure, REDIS};
use crate::statement::{QueryText, Statement, key_pattern};

/// `redis.key.pattern`: the first key with its variable parts as `*` (opt-in).
pub const KEY_PATTERN: &str = "redis.key.pattern";

/// The operation name of a pipeline (and its span's name).
pub(crate) const PIPELINE: &str = "PIPELINE";
/// The operation name of a MULTI/EXEC transaction.
pub(crate) const MULTI: &str = "MULTI";

/// What a command is called: the table's name, or for a command the table does not know, its own
/// name when it reads as one (`JSON.GET`), else nothing.
#[derive(Clone, Copy)]
pub(crate) struct Named<'a> {
    pub(crate) command: Option<&'static Command>,
    raw: &'a [u8],
}

impl<'a> Named<'a> {
    #[inline(always)]
    pub(crate) fn new(raw: &'a [u8]) -> Self {
        Named {
            command: lookup(raw),
            raw,
        }
    }

    /// `db.operation.name` on spans, and the span name.
    #[inline(always)]
    fn name(&self) -> Option<Cow<'static, str>> {
        match self.command {
            Some(command) => Some(Cow::Borrowed(command.name)),
            None => self.unknown_name(),
        }
    }

    /// [`Named::name`] of a command the table does not know.
    #[cold]
    fn unknown_name(&self) -> Option<Cow<'static, str>> {
        let token = !self.raw.is_empty()
            && self.raw.len() <= 32
            && self
                .raw
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'|'));
        // Checked ASCII just above.
        token.then(|| Cow::Owned(String::from_utf8_lossy(self.raw).to_ascii_uppercase()))
    }

    /// `db.operation.name` on metrics: bounded to the commands the table knows.
    fn metric_name(&self) -> &'static str {
        self.command.map_or(otel_core::OTHER, |c| c.name)
    }
}

/// The arguments of a command, its name first.
pub(crate) trait Args<'a>: Iterator<Item = &'a [u8]> + Clone {}
impl<'a, I: Iterator<Item = &'a [u8]> + Clone> Args<'a> for I {}

/// An operation in flight.
pub(crate) struct Operation<'c> {
    config: &'c Config,
    ended: bool,
    span: Option<BoxedSpan>,
    started: Option<Instant>,
    metric_name: &'static str,
    namespace: Option<i64>,
}

const NAMESPACES: [&str; 16] = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15",
];

#[inline(always)]
fn namespace_value(db: i64) -> opentelemetry::Value {
    match usize::try_from(db).ok().and_then(|i| NAMESPACES.get(i)) {
        Some(s) => opentelemetry::Value::from(*s),
        None => opentelemetry::Value::from(db.to_string()),
    }
}

impl<'c> Operation<'c> {
    /// Starts a single command's operation under `parent`.
    pub(crate) fn command<'a>(
        config: &'c Config,
        parent: &Context,
        db: i64,
        args: impl Args<'a>,
    ) -> Self {
        let mut rest = args.clone();
        let named = Named::new(rest.next().unwrap_or_default());
        if !config.instruments_operation(|| named.name().unwrap_or(Cow::Borrowed(otel_core::OTHER)))
        {
            return Operation::skipped(config);
        }
        let namespace = config.namespace.or(Some(db));
        let span = config.traces.then(|| {
            otel_core::start_span(
                config.providers.tracer(),
                SpanKind::Client,
                parent,
                Vec::new(),
                || named.name().unwrap_or(Cow::Borrowed(REDIS)),
                || {
                    let name = named.name();
                    let with_statement = config.query_text != QueryText::Off;
                    let key = config
                        .key_pattern
                        .then(|| {
                            named
                                .command
                                .and_then(Command::first_key_index)
                                .and_then(|i| args.clone().nth(i))
                        })
                        .flatten();
                    // Exactly as many as there are: the SDK keeps this vector as the span's.
                    let mut attributes = Vec::with_capacity(
                        base_count(config, &name, namespace)
                            + usize::from(with_statement)
                            + usize::from(key.is_some()),
                    );
                    let statement = with_statement.then(|| {
                        let mut statement = Statement::new(config.max_query_text_len);
                        push_statement(config, &mut statement, &name, named, rest.clone());
                        statement.finish_or_name(named.command.map(|c| c.name))
                    });
                    let pattern =
                        key.map(|key| key_pattern(key, config.max_query_text_len.min(256)));
                    base_attributes(config, &mut attributes, name, namespace);
                    if let Some(statement) = statement {
                        attributes.push(KeyValue::new(semconv::DB_QUERY_TEXT, statement));
                    }
                    if let Some(pattern) = pattern {
                        attributes.push(KeyValue::new(KEY_PATTERN, pattern));
                    }
                    attributes
                },
            )
            .0
        });
        Operation {
            config,
            ended: false,
            span,
            started: config.metrics.then(Instant::now),
            metric_name: named.metric_name(),
            namespace,
        }
    }

    /// Starts a pipeline's (or a transaction's) operation under `parent`.
    pub(crate) fn pipeline<'a, C: Args<'a>, I: Iterator<Item = C>>(
        config: &'c Config,
        parent: &Context,
        db: i64,
        commands: impl Fn() -> I,
        count: usize,
        transaction: bool,
    ) -> Self {
        if count == 1 && !transaction {
            // One command is no batch: it is traced as itself.
            if let Some(command) = commands().next() {
                return Operation::command(config, parent, db, command);
            }
        }
        let name = if transaction { MULTI } else { PIPELINE };
        if !config.instruments_operation(|| Cow::Borrowed(name)) {
            return Operation::skipped(config);
        }
        let namespace = config.namespace.or(Some(db));
        let span = config.traces.then(|| {
            otel_core::start_span(
                config.providers.tracer(),
                SpanKind::Client,
                parent,
                Vec::new(),
                || Cow::Borrowed(name),
                || {
                    let name = Some(Cow::Borrowed(name));
                    let statement = (config.query_text != QueryText::Off).then(|| {
                        let mut statement = Statement::new(config.max_query_text_len);
                        for mut command in commands() {
                            statement.separate();
                            let named = Named::new(command.next().unwrap_or_default());
                            push_statement(config, &mut statement, &named.name(), named, command);
                        }
                        statement.finish()
                    });
                    let mut attributes = Vec::with_capacity(
                        base_count(config, &name, namespace)
                            + usize::from(count >= 2)
                            + usize::from(statement.is_some()),
                    );
                    base_attributes(config, &mut attributes, name, namespace);
                    if count >= 2 {
                        attributes.push(KeyValue::new(
                            semconv::DB_OPERATION_BATCH_SIZE,
                            i64::try_from(count).unwrap_or(i64::MAX),
                        ));
                    }
                    if let Some(statement) = statement {
                        attributes.push(KeyValue::new(semconv::DB_QUERY_TEXT, statement));
                    }
                    attributes
                },
            )
            .0
        });
        Operation {
            config,
            ended: false,
            span,
            started: config.metrics.then(Instant::now),
            metric_name: name,
            namespace,
        }
    }

    /// An operation the filter left out: nothing recorded.
    fn skipped(config: &'c Config) -> Self {
        Operation {
            config,
            ended: true,
            span: None,
            started: None,
            metric_name: otel_core::OTHER,
            namespace: None,
        }
    }

    /// Ends the operation: the failure, if any, on the span and the metric.
    pub(crate) fn end(mut self, failure: Option<Failure>) {
        self.finish(failure);
    }

    fn finish(&mut self, failure: Option<Failure>) {
        self.ended = true;
        let config = self.config;
        if let Some(mut span) = self.span.take() {
            if let Some(failure) = failure.as_ref().filter(|_| span.is_recording()) {
                let error_type = failure.error_type();
                if let Some(code) = failure.status_code() {
                    span.set_attribute(KeyValue::new(semconv::DB_RESPONSE_STATUS_CODE, code));
                }
                span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, error_type.clone()));
                span.set_status(Status::error(error_type));
            }
            span.end();
        }
        if let Some(started) = self.started {
            let elapsed = started.elapsed().as_secs_f64();
            let mut attributes = Vec::with_capacity(7);
            attributes.push(KeyValue::new(semconv::DB_SYSTEM_NAME, REDIS));
            attributes.push(KeyValue::new(semconv::DB_OPERATION_NAME, self.metric_name));
            if let Some(db) = self.namespace {
                attributes.push(KeyValue::new(semconv::DB_NAMESPACE, namespace_value(db)));
            }
            config.push_server(&mut attributes);
            if let Some(failure) = &failure {
                let bounded = failure.metric_error_type();
                if matches!(failure, Failure::Server(_)) {
                    attributes.push(KeyValue::new(semconv::DB_RESPONSE_STATUS_CODE, bounded));
                }
                attributes.push(KeyValue::new(semconv::ERROR_TYPE, bounded));
            }
            config
                .instruments()
                .operation_duration
                .record(elapsed, &attributes);
        }
    }
}

impl Drop for Operation<'_> {
    /// A request dropped before its reply (a caller's timeout, a cancelled task) ends as
    /// `cancelled`.
    fn drop(&mut self) {
        if !self.ended {
            self.finish(Some(Failure::Client("cancelled")));
        }
    }
}

/// How many attributes [`base_attributes`] pushes.
fn base_count(config: &Config, name: &Option<Cow<'static, str>>, namespace: Option<i64>) -> usize {
    1 + usize::from(name.is_some())
        + usize::from(namespace.is_some())
        + config.server_attribute_count()
}

/// The attributes every operation's span has.
#[inline(always)]
fn base_attributes(
    config: &Config,
    attributes: &mut Vec<KeyValue>,
    name: Option<Cow<'static, str>>,
    namespace: Option<i64>,
) {
    attributes.push(KeyValue::new(semconv::DB_SYSTEM_NAME, REDIS));
    match name {
        // A known command's name, without looking at the `Cow` again.
        Some(Cow::Borrowed(name)) => {
            attributes.push(KeyValue::new(semconv::DB_OPERATION_NAME, name));
        }
        Some(name) => attributes.push(KeyValue::new(semconv::DB_OPERATION_NAME, name)),
        None => {}
    }
    if let Some(db) = namespace {
        attributes.push(KeyValue::new(semconv::DB_NAMESPACE, namespace_value(db)));
    }
    config.push_server_attributes(attributes);
}

fn push_statement<'a>(
    config: &Config,
    statement: &mut Statement,
    name: &Option<Cow<'static, str>>,
    named: Named<'_>,
    args: impl Iterator<Item = &'a [u8]>,
) {
    match name {
        Some(name) => statement.push_command(config.query_text, name, named.command, args),
        None => statement.push_command(config.query_text, otel_core::OTHER, None, args),
    }
}
