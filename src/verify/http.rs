//! The query APIs' side: a plain HTTP/1.1 request with bounded timeouts, enough for
//! Tempo's trace-by-id and OpenSearch's search on the platform's loopback ports.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// A response: its status and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The URL is not `http://host[:port]/...` (HTTPS is not spoken here).
    Url(String),
    Unreachable(String),
    Broken(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Url(why) | Failure::Unreachable(why) | Failure::Broken(why) => {
                f.write_str(why)
            }
        }
    }
}

/// `(host, port, path)` of an `http://` URL.
pub fn split_url(url: &str) -> Result<(String, u16, String), Failure> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        Failure::Url(format!(
            "{url}: only http:// URLs are queried (the platform's APIs listen in plaintext on \
             127.0.0.1)"
        ))
    })?;
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, ""),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse()
                .map_err(|_| Failure::Url(format!("{url}: `{p}` is not a port")))?,
        ),
        None => (authority, 80),
    };
    if host.is_empty() {
        return Err(Failure::Url(format!("{url}: no host")));
    }
    Ok((
        host.to_string(),
        port,
        path.trim_end_matches('/').to_string(),
    ))
}

/// `method` `base` + `path` with an optional JSON body.
pub fn request(
    method: &str,
    base: &str,
    path: &str,
    body: Option<&str>,
    timeout: Duration,
) -> Result<Response, Failure> {
    let (host, port, prefix) = split_url(base)?;
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| Failure::Unreachable(format!("{host}: {e}")))?
        .next()
        .ok_or_else(|| Failure::Unreachable(format!("{host}: no address")))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| Failure::Unreachable(format!("{host}:{port}: {e}")))?;
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let body = body.unwrap_or("");
    let head = format!(
        "{method} {prefix}{path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: application/json\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body.as_bytes()))
        .map_err(|e| Failure::Broken(format!("{host}:{port}: {e}")))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| Failure::Broken(format!("{host}:{port}: {e}")))?;
    parse(&raw).ok_or_else(|| Failure::Broken(format!("{host}:{port} sent no HTTP response")))
}

fn parse(raw: &[u8]) -> Option<Response> {
    let text = String::from_utf8_lossy(raw);
    let (head, rest) = text.split_once("\r\n\r\n")?;
    let status = head
        .lines()
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let chunked = head
        .lines()
        .any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Some(Response { status, body })
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_and_https_is_refused_with_why() {
        assert_eq!(
            split_url("http://127.0.0.1:3200/").expect("ok"),
            ("127.0.0.1".into(), 3200, String::new())
        );
        assert!(matches!(split_url("https://x:9200"), Err(Failure::Url(_))));
    }

    #[test]
    fn chunked_bodies_are_joined() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n";
        let r = parse(raw).expect("response");
        assert_eq!((r.status, r.body.as_str()), (200, "{\"a\":1}"));
    }
}
