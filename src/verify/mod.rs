//! `obs-init verify`: a canary through the platform. One span and one log record carrying
//! its trace id go to the collector the way the project's services send (OTLP/gRPC, the
//! endpoint and scheme they are configured with); then Tempo's trace-by-id API and
//! OpenSearch's search API must hold them, the log with the span's trace id. Each hop that
//! fails is named with its fix, and nothing waits longer than its bound.

pub mod http;
pub mod otlp;
pub mod probe;

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::contract;
use probe::Speaks;

/// Where the platform publishes its APIs on its host (`obs-init platform`).
pub const DEFAULT_TEMPO: &str = "http://127.0.0.1:3200";
pub const DEFAULT_OPENSEARCH: &str = "http://127.0.0.1:9200";
pub const DEFAULT_GRAFANA: &str = "http://127.0.0.1:3000";
/// The index the platform's Fluent Bit writes logs to.
pub const LOG_INDEX: &str = "otel-logs";

/// For a refused connection where the compose platform runs on this host.
pub const START_PLATFORM: &str = "start the platform (`obs-init platform`, then its setup.sh), or pass --collector \
     HOST:PORT where the collector runs";

#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The endpoint to send to, as a variable would hold it (`host:port`, `http://...`).
    pub endpoint: String,
    /// The variable the endpoint was read from (or `--collector`), for messages.
    pub source: String,
    /// Whether the sender opens TLS at that endpoint (an `https://` or, for the standard
    /// OTLP variable, a scheme-less endpoint).
    pub tls: bool,
    /// Query Tempo and OpenSearch; without it only the collector is checked.
    pub query: bool,
    pub tempo: String,
    pub opensearch: String,
    pub grafana: String,
    /// What makes the collector reachable here, for a refused connection: the compose
    /// platform's start, or a cluster's port-forward.
    pub reach: String,
    /// Each connection's bound.
    pub timeout: Duration,
    /// How long the stored trace and log may take to appear.
    pub wait: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Failed,
    Skipped,
}

/// One hop of the canary's way.
#[derive(Debug, Clone, Serialize)]
pub struct Hop {
    pub name: &'static str,
    pub outcome: Outcome,
    pub detail: String,
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The address the canary went to.
    pub collector: String,
    pub trace_id: String,
    pub hops: Vec<Hop>,
    /// Grafana Explore on the canary's trace, once Tempo has it.
    pub grafana: Option<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.hops.iter().all(|h| h.outcome != Outcome::Failed)
    }
}

fn ok(name: &'static str, detail: String) -> Hop {
    Hop {
        name,
        outcome: Outcome::Ok,
        detail,
        fix: None,
    }
}

fn failed(name: &'static str, detail: String, fix: String) -> Hop {
    Hop {
        name,
        outcome: Outcome::Failed,
        detail,
        fix: Some(fix),
    }
}

fn skipped(name: &'static str, detail: &str) -> Hop {
    Hop {
        name,
        outcome: Outcome::Skipped,
        detail: detail.to_string(),
        fix: None,
    }
}

/// The host and port of an endpoint as a variable holds it.
pub fn host_port(endpoint: &str) -> Option<(String, u16)> {
    let rest = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"))
        .unwrap_or(endpoint);
    let authority = rest.split('/').next()?;
    let (host, port) = authority.rsplit_once(':')?;
    Some((
        host.trim_matches(['[', ']']).to_string(),
        port.parse().ok()?,
    ))
}

/// Where to connect: the endpoint's address, or, for the platform's name on
/// `observability-net` (which resolves only inside Docker), the loopback port the platform
/// publishes it on.
fn address(host: &str, port: u16) -> Result<(SocketAddr, Option<String>), String> {
    match (host, port).to_socket_addrs().map(|mut a| a.next()) {
        Ok(Some(addr)) => Ok((addr, None)),
        _ if host == collector_host() => Ok((
            SocketAddr::from(([127, 0, 0, 1], port)),
            Some(format!(
                "{host} resolves only on {}; sent to 127.0.0.1:{port}, where the platform publishes it",
                contract::NETWORK
            )),
        )),
        _ => Err(format!("{host} does not resolve here")),
    }
}

fn collector_host() -> &'static str {
    contract::COLLECTOR_ADDRESS
        .split(':')
        .next()
        .unwrap_or("otel-collector")
}

/// Sends the canary and follows it through the platform.
pub fn verify(opts: &VerifyOptions) -> Report {
    let canary = otlp::Canary::new();
    let mut report = Report {
        collector: opts.endpoint.clone(),
        trace_id: canary.trace_hex(),
        hops: Vec::new(),
        grafana: None,
    };
    let Some((host, port)) = host_port(&opts.endpoint) else {
        report.hops.push(failed(
            "collector",
            format!("{} is `{}`, not host:port", opts.source, opts.endpoint),
            "pass --collector HOST:PORT (the platform's is 127.0.0.1:4317)".into(),
        ));
        return report;
    };
    let (addr, rerouted) = match address(&host, port) {
        Ok(a) => a,
        Err(why) => {
            report.hops.push(failed(
                "collector",
                why,
                "pass --collector HOST:PORT where the collector is reachable from here".into(),
            ));
            return report;
        }
    };
    report.collector = addr.to_string();
    let hop = collector_hop(opts, &addr, rerouted);
    let reached = hop.outcome == Outcome::Ok;
    report.hops.push(hop);
    if !reached {
        return report;
    }
    let export = match otlp::export(&addr.to_string(), &canary, opts.timeout) {
        Ok(()) => ok(
            "export",
            format!(
                "the collector accepted the span and a log record with its trace id {}",
                canary.trace_hex()
            ),
        ),
        Err(otlp::ExportError::Status { code, message }) if code == "Unimplemented" => failed(
            "export",
            format!("{addr} speaks gRPC but serves no OTLP trace or log service ({message})"),
            "point at the OpenTelemetry Collector's OTLP gRPC receiver (4317 on the platform)"
                .into(),
        ),
        Err(otlp::ExportError::Status { code, message }) => failed(
            "export",
            format!("the collector at {addr} refused the canary: {code}: {message}"),
            "see the collector's log (docker compose logs otel-collector)".into(),
        ),
        Err(otlp::ExportError::Connect(why)) => failed(
            "export",
            format!("no gRPC connection to {addr}: {why}"),
            "check that this is the collector's OTLP gRPC port".into(),
        ),
    };
    let exported = export.outcome == Outcome::Ok;
    report.hops.push(export);
    if !exported {
        return report;
    }
    if !opts.query {
        report.hops.push(skipped("tempo", "--no-query"));
        report.hops.push(skipped("opensearch", "--no-query"));
        return report;
    }
    let deadline = Instant::now() + opts.wait;
    let tempo = tempo_hop(opts, &canary, deadline);
    if tempo.outcome == Outcome::Ok {
        report.grafana = Some(explore_link(&opts.grafana, &canary.trace_hex()));
    }
    report.hops.push(tempo);
    report.hops.push(opensearch_hop(opts, &canary, deadline));
    report
}

fn collector_hop(opts: &VerifyOptions, addr: &SocketAddr, rerouted: Option<String>) -> Hop {
    let at = match &rerouted {
        Some(why) => format!("{addr} ({why})"),
        None => addr.to_string(),
    };
    match probe::probe(addr, opts.timeout) {
        Speaks::Http2 if opts.tls => failed(
            "collector",
            format!(
                "{at} speaks plaintext gRPC, and {} = `{}` makes the exporter open TLS there",
                opts.source, opts.endpoint
            ),
            format!(
                "write it with the scheme: http://{}",
                opts.endpoint
                    .trim_start_matches("https://")
                    .trim_start_matches("http://")
            ),
        ),
        Speaks::Http2 => ok("collector", format!("{at} speaks plaintext gRPC")),
        Speaks::Tls => failed(
            "collector",
            format!(
                "{at} answers with TLS, and {} = `{}` sends plaintext",
                opts.source, opts.endpoint
            ),
            "the platform's collector speaks plaintext on 4317: point at it, or give the \
             services https:// and the collector's certificate"
                .into(),
        ),
        Speaks::Http1(line) => failed(
            "collector",
            format!("{at} answers HTTP/1 (`{line}`): an OTLP/HTTP port, not gRPC"),
            "send gRPC to 4317 (OTLP/HTTP is 4318, with OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf)"
                .into(),
        ),
        Speaks::Refused => failed(
            "collector",
            format!("nothing listens on {at} (connection refused)"),
            opts.reach.clone(),
        ),
        Speaks::Timeout => failed(
            "collector",
            format!("no answer from {at} within {} s", opts.timeout.as_secs()),
            "check the host and port (a firewall drops the connection?), or pass --collector"
                .into(),
        ),
        Speaks::Silent => failed(
            "collector",
            format!("{at} took the connection but answered no HTTP/2"),
            "check that this is the collector's OTLP gRPC port (4317 on the platform)".into(),
        ),
    }
}

/// Polls `attempt` once a second until it gives an answer or the deadline passes.
fn poll<T>(deadline: Instant, mut attempt: impl FnMut() -> Option<T>) -> Option<T> {
    loop {
        if let Some(found) = attempt() {
            return Some(found);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(500).min(deadline - now));
    }
}

enum Seen {
    Stored,
    Unreachable(String),
    Odd(String),
}

fn tempo_hop(opts: &VerifyOptions, canary: &otlp::Canary, deadline: Instant) -> Hop {
    let path = format!("/api/traces/{}", canary.trace_hex());
    let seen = poll(deadline, || {
        match http::request("GET", &opts.tempo, &path, None, opts.timeout) {
            Ok(r) if r.status == 200 => Some(Seen::Stored),
            // Not there (yet): Tempo answers 404 for a trace it does not have.
            Ok(r) if r.status == 404 => None,
            Ok(r) => Some(Seen::Odd(format!(
                "HTTP {}: {}",
                r.status,
                first_line(&r.body)
            ))),
            Err(e) => Some(Seen::Unreachable(e.to_string())),
        }
    });
    let url = format!("{}{path}", opts.tempo.trim_end_matches('/'));
    match seen {
        Some(Seen::Stored) => ok("tempo", format!("Tempo has the trace ({url})")),
        Some(Seen::Unreachable(why)) => failed(
            "tempo",
            format!("Tempo's API is unreachable: {why}"),
            format!(
                "the platform publishes it on {DEFAULT_TEMPO}; pass --tempo URL, or --no-query to \
                 check the collector only"
            ),
        ),
        Some(Seen::Odd(why)) => failed(
            "tempo",
            format!("Tempo answered {url} with {why}"),
            "check --tempo: it should be Tempo's HTTP API (port 3200)".into(),
        ),
        None => failed(
            "tempo",
            format!(
                "the collector accepted the span, but Tempo does not have it after {} s",
                opts.wait.as_secs()
            ),
            "check the collector's traces pipeline (exporter otlp_grpc/tempo to tempo:4317) and \
             `docker compose logs otel-collector tempo` in the platform's folder"
                .into(),
        ),
    }
}

fn opensearch_hop(opts: &VerifyOptions, canary: &otlp::Canary, deadline: Instant) -> Hop {
    let path = format!("/{LOG_INDEX}/_search");
    let body = serde_json::json!({
        "query": { "match_phrase": { "message": canary.message } },
        "size": 5,
    })
    .to_string();
    let want = canary.trace_hex();
    enum Found {
        WithId,
        WithoutId(String),
        Unreachable(String),
        Odd(String),
    }
    // The last answer meaning "not searchable yet", said if it never becomes so.
    let mut unavailable: Option<String> = None;
    let found = poll(deadline, || {
        let r = match http::request("POST", &opts.opensearch, &path, Some(&body), opts.timeout) {
            Ok(r) => r,
            Err(e) => return Some(Found::Unreachable(e.to_string())),
        };
        // The index appears with the first record Fluent Bit writes.
        if r.status == 404 {
            return None;
        }
        // A new index's shard is allocated a moment after it is created (and a starting
        // node's after recovery): OpenSearch answers 503, "all shards failed", till then.
        if r.status == 503 {
            unavailable = Some(format!("HTTP 503: {}", first_line(&r.body)));
            return None;
        }
        if r.status != 200 {
            return Some(Found::Odd(format!(
                "HTTP {}: {}",
                r.status,
                first_line(&r.body)
            )));
        }
        let json: serde_json::Value = match serde_json::from_str(&r.body) {
            Ok(j) => j,
            Err(_) => return Some(Found::Odd("an answer that is not JSON".into())),
        };
        let hits = json["hits"]["hits"].as_array().cloned().unwrap_or_default();
        if hits.is_empty() {
            return None;
        }
        let ids: Vec<String> = hits
            .iter()
            .map(|h| h["_source"]["traceId"].as_str().unwrap_or("").to_string())
            .collect();
        if ids.iter().any(|id| id.eq_ignore_ascii_case(&want)) {
            Some(Found::WithId)
        } else {
            Some(Found::WithoutId(ids.join(", ")))
        }
    });
    match found {
        Some(Found::WithId) => ok(
            "opensearch",
            format!("OpenSearch has the log record, with the span's trace id ({LOG_INDEX})"),
        ),
        Some(Found::WithoutId(ids)) => failed(
            "opensearch",
            format!(
                "OpenSearch has the log record, but without its trace id (traceId: `{ids}`): \
                 Grafana cannot link it to the trace"
            ),
            "the collector's logs pipeline must run transform/logs-for-opensearch, which \
             writes traceId (obs-init platform writes it)"
                .into(),
        ),
        Some(Found::Unreachable(why)) => failed(
            "opensearch",
            format!("OpenSearch's API is unreachable: {why}"),
            format!(
                "the platform publishes it on {DEFAULT_OPENSEARCH}; pass --opensearch URL, or \
                 --no-query"
            ),
        ),
        Some(Found::Odd(why)) => failed(
            "opensearch",
            format!("OpenSearch answered the search with {why}"),
            "check --opensearch: it should be OpenSearch's REST API (port 9200)".into(),
        ),
        None if unavailable.is_some() => failed(
            "opensearch",
            format!(
                "OpenSearch could not search {LOG_INDEX} for {} s: {}",
                opts.wait.as_secs(),
                unavailable.unwrap_or_default()
            ),
            format!(
                "its primary shard is not allocated: see `curl {}/_cluster/health?pretty` and \
                 `docker compose logs opensearch` in the platform's folder (disk watermarks \
                 stop allocation on a full disk)",
                opts.opensearch.trim_end_matches('/')
            ),
        ),
        None => failed(
            "opensearch",
            format!(
                "the collector accepted the log record, but OpenSearch does not have it in \
                 {LOG_INDEX} after {} s",
                opts.wait.as_secs()
            ),
            "check the logs pipeline: collector to fluent-bit:4318 to opensearch \
             (`docker compose logs otel-collector fluent-bit`)"
                .into(),
        ),
    }
}

fn first_line(body: &str) -> String {
    body.lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(200)
        .collect()
}

/// Grafana Explore showing the trace, from the Tempo data source the platform provisions.
pub fn explore_link(grafana: &str, trace_id: &str) -> String {
    let pane = serde_json::json!({
        "datasource": "tempo",
        "queries": [{ "refId": "A", "datasource": { "type": "tempo", "uid": "tempo" },
                      "queryType": "traceql", "query": trace_id }],
        "range": { "from": "now-1h", "to": "now" },
    });
    format!(
        "{}/explore?left={}",
        grafana.trim_end_matches('/'),
        percent_encode(&pane.to_string())
    )
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_give_their_host_and_port() {
        assert_eq!(
            host_port("http://otel-collector:4317"),
            Some(("otel-collector".into(), 4317))
        );
        assert_eq!(
            host_port("127.0.0.1:4317"),
            Some(("127.0.0.1".into(), 4317))
        );
        assert_eq!(host_port("otel-collector"), None);
    }
}
