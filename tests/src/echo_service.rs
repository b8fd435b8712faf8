//! An `Echo` service for tests, benches and the demo: replies with the message and the trace id
//! its handler saw as current, and misbehaves on request (`behaviour`).

use std::pin::Pin;
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry::trace::TraceContextExt;
use tokio_stream::{Stream, StreamExt};
use tonic::{Code, Request, Response, Status, Streaming};

use crate::echo::echo_server::Echo;
use crate::echo::{EchoReply, EchoRequest};

/// The server-streaming replies.
pub type ReplyStream = Pin<Box<dyn Stream<Item = Result<EchoReply, Status>> + Send>>;

/// The service; see the module docs for its behaviours.
#[derive(Clone, Copy, Debug, Default)]
pub struct EchoService;

/// The trace id of the current context.
pub fn current_trace_id() -> String {
    Context::map_current(|cx| cx.span().span_context().trace_id().to_string())
}

async fn behave(req: &EchoRequest) -> Result<(), Status> {
    let b = req.behaviour.as_str();
    if let Some(code) = b.strip_prefix("fail:") {
        return Err(Status::new(
            Code::from_i32(code.parse().unwrap()),
            "asked to fail",
        ));
    }
    if let Some(ms) = b.strip_prefix("sleep:") {
        tokio::time::sleep(Duration::from_millis(ms.parse().unwrap())).await;
    }
    Ok(())
}

#[tonic::async_trait]
impl Echo for EchoService {
    async fn unary(&self, req: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
        let req = req.into_inner();
        behave(&req).await?;
        Ok(Response::new(EchoReply {
            message: req.message,
            trace_id: current_trace_id(),
        }))
    }

    type ServerStreamStream = ReplyStream;

    async fn server_stream(
        &self,
        req: Request<EchoRequest>,
    ) -> Result<Response<ReplyStream>, Status> {
        let req = req.into_inner();
        behave(&req).await?;
        let trace_id = current_trace_id();
        let reply = move |i: usize| {
            Ok(EchoReply {
                message: format!("{i}"),
                trace_id: trace_id.clone(),
            })
        };
        let stream: ReplyStream = match req.behaviour.as_str() {
            "midstream" => Box::pin(tokio_stream::iter(vec![
                reply(0),
                Err(Status::internal("broke mid-stream")),
            ])),
            "hang" => Box::pin(tokio_stream::iter(vec![reply(0)]).chain(tokio_stream::pending())),
            _ => {
                Box::pin(tokio_stream::iter((0..3).map(reply)).throttle(Duration::from_millis(30)))
            }
        };
        Ok(Response::new(stream))
    }

    async fn client_stream(
        &self,
        req: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<EchoReply>, Status> {
        let mut stream = req.into_inner();
        let mut count = 0;
        while let Some(message) = stream.next().await {
            message?;
            count += 1;
        }
        Ok(Response::new(EchoReply {
            message: count.to_string(),
            trace_id: current_trace_id(),
        }))
    }

    type BidiStream = ReplyStream;

    async fn bidi(
        &self,
        req: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<ReplyStream>, Status> {
        let trace_id = current_trace_id();
        let stream = req.into_inner().map(move |m| {
            m.map(|m| EchoReply {
                message: m.message,
                trace_id: trace_id.clone(),
            })
        });
        Ok(Response::new(Box::pin(stream)))
    }
}
