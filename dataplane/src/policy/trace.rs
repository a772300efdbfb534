//! Trace: W3C `traceparent`/`tracestate` propagation and one span per hop (a client span on
//! the outbound side, a server span on the inbound side) with the service, version, mesh,
//! zone, peer and status, exported over OTLP/gRPC. `sampling` percent of new traces are
//! recorded; a request that arrives with a sampling decision keeps it, so every hop of a trace
//! agrees. Spans go to the collector from a bounded queue; when it is full they are dropped,
//! never delaying requests.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    Sampler, SdkTracer, SdkTracerProvider, SpanData, SpanExporter, SpanProcessor,
};
use tokio::sync::mpsc;
use tower::Layer;
use weft_model::proxy::ProxyConfig;

use crate::observe::observe;
use crate::stack::{Request, ResponseFuture, Stack};
use crate::telemetry::Direction;

const QUEUE: usize = 4096;
const BATCH: usize = 512;

/// What makes one tracer: where spans go, how many are sampled, and who this proxy is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TracingKey {
    endpoint: String,
    sampling_bits: u64,
    mesh: String,
    service: String,
    version: String,
    zone: String,
}

impl TracingKey {
    /// `None` when the config has no trace backend.
    pub fn of(config: &ProxyConfig) -> Option<TracingKey> {
        let trace = config.trace.as_ref()?;
        let endpoint = trace.backend.as_ref()?.otlp.as_ref()?.endpoint.clone();
        Some(TracingKey {
            endpoint,
            sampling_bits: trace.sampling.unwrap_or(100.0).to_bits(),
            mesh: config.mesh.clone(),
            service: config.service.clone(),
            version: config.version.clone().unwrap_or_default(),
            zone: config.zone.clone().unwrap_or_default(),
        })
    }
}

/// A tracer and its export queue.
pub struct Tracing {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    key: TracingKey,
    pub dropped: Arc<AtomicU64>,
}

impl Drop for Tracing {
    fn drop(&mut self) {
        let _ = self.provider.shutdown();
    }
}

impl Tracing {
    pub fn new(key: &TracingKey) -> Result<Tracing, String> {
        let resource = Resource::builder_empty()
            .with_service_name(key.service.clone())
            .with_attributes([
                KeyValue::new("weft.mesh", key.mesh.clone()),
                KeyValue::new("weft.zone", key.zone.clone()),
                KeyValue::new("service.version", key.version.clone()),
            ])
            .build();
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(key.endpoint.clone())
            .with_timeout(Duration::from_secs(5))
            .build()
            .map_err(|error| format!("trace exporter for {}: {error}", key.endpoint))?;
        exporter.set_resource(&resource);
        let (spans, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(export(exporter, receiver));
        let dropped = Arc::new(AtomicU64::new(0));
        let ratio = (f64::from_bits(key.sampling_bits) / 100.0).clamp(0.0, 1.0);
        let provider = SdkTracerProvider::builder()
            .with_span_processor(Queue {
                spans,
                dropped: dropped.clone(),
            })
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
                ratio,
            ))))
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("weft-dp");
        Ok(Tracing {
            provider,
            tracer,
            key: key.clone(),
            dropped,
        })
    }
}

/// Hands finished spans to the export task.
#[derive(Debug)]
struct Queue {
    spans: mpsc::Sender<SpanData>,
    dropped: Arc<AtomicU64>,
}

impl SpanProcessor for Queue {
    fn on_start(&self, _: &mut opentelemetry_sdk::trace::Span, _: &Context) {}

    fn on_end(&self, span: SpanData) {
        if self.spans.try_send(span).is_err() {
            self.dropped.fetch_add(1, Relaxed);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
}

async fn export(exporter: opentelemetry_otlp::SpanExporter, mut spans: mpsc::Receiver<SpanData>) {
    while let Some(first) = spans.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match spans.try_recv() {
                Ok(span) => batch.push(span),
                Err(_) => break,
            }
        }
        if let Err(error) = exporter.export(batch).await {
            tracing::debug!(%error, "exporting spans failed");
        }
    }
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

#[derive(Clone)]
pub struct TraceLayer {
    tracing: Arc<Tracing>,
    direction: Direction,
    /// For outbound spans: the service called.
    peer: Arc<str>,
}

impl TraceLayer {
    pub fn new(tracing: Arc<Tracing>, direction: Direction, peer: &str) -> TraceLayer {
        TraceLayer {
            tracing,
            direction,
            peer: Arc::from(peer),
        }
    }
}

#[derive(Clone)]
pub struct Trace {
    inner: Stack,
    layer: TraceLayer,
}

impl Layer<Stack> for TraceLayer {
    type Service = Trace;

    fn layer(&self, inner: Stack) -> Trace {
        Trace {
            inner,
            layer: self.clone(),
        }
    }
}

impl Trace {
    fn serve(&self, mut request: Request) -> ResponseFuture {
        let layer = &self.layer;
        let key = &layer.tracing.key;
        let propagator = TraceContextPropagator::new();
        let parent = propagator.extract(&HeaderExtractor(request.headers()));
        let (kind, peer) = match layer.direction {
            Direction::Outbound => (SpanKind::Client, layer.peer.to_string()),
            Direction::Inbound => (
                SpanKind::Server,
                crate::source::verified(&request)
                    .unwrap_or_default()
                    .to_string(),
            ),
        };
        let name: Cow<'static, str> = match layer.direction {
            Direction::Outbound => format!("{} {}", request.method(), layer.peer).into(),
            Direction::Inbound => format!("{} {}", request.method(), key.service).into(),
        };
        let span = layer
            .tracing
            .tracer
            .span_builder(name)
            .with_kind(kind)
            .with_attributes([
                KeyValue::new("weft.direction", layer.direction.label()),
                KeyValue::new("weft.mesh", key.mesh.clone()),
                KeyValue::new("weft.service", key.service.clone()),
                KeyValue::new("weft.version", key.version.clone()),
                KeyValue::new("weft.zone", key.zone.clone()),
                KeyValue::new("weft.peer", peer),
                KeyValue::new("http.request.method", request.method().to_string()),
                KeyValue::new("url.path", request.uri().path().to_string()),
            ])
            .start_with_context(&layer.tracing.tracer, &parent);
        let context = parent.with_span(span);
        // The next hop continues this span's trace (and its sampling decision).
        propagator.inject_context(&context, &mut HeaderInjector(request.headers_mut()));
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            let status = response.status();
            Ok(observe(response, move |summary| {
                let span = context.span();
                span.set_attribute(KeyValue::new(
                    "http.response.status_code",
                    i64::from(status.as_u16()),
                ));
                if let Some(code) = summary.grpc_status {
                    span.set_attribute(KeyValue::new("rpc.grpc.status_code", i64::from(code)));
                }
                if status.is_server_error() || summary.grpc_status.is_some_and(|code| code != 0) {
                    span.set_status(Status::error(format!("status {status}")));
                }
                span.end();
            }))
        })
    }
}

crate::stack_service!(Trace);
