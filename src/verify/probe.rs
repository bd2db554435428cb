//! What a port speaks, found by opening a plaintext HTTP/2 connection and reading the first
//! bytes back: a gRPC server answers with a SETTINGS frame, a TLS server with an alert
//! record, an HTTP/1 server (OTLP/HTTP's 4318) with a status line. This is what tells the
//! classic mistakes apart before any export is tried.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// What answered at an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Speaks {
    /// Plaintext HTTP/2: gRPC can be spoken.
    Http2,
    /// A TLS server: it answered the plaintext preface with a TLS record.
    Tls,
    /// HTTP/1.x: the status line it sent.
    Http1(String),
    /// The connection was refused: nothing listens there.
    Refused,
    /// Neither a connection nor a refusal within the timeout (a firewall, a wrong host).
    Timeout,
    /// Connected, then closed or stayed silent without a recognisable answer.
    Silent,
}

/// The client connection preface, then an empty SETTINGS frame (RFC 9113 §3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

pub fn probe(addr: &SocketAddr, timeout: Duration) -> Speaks {
    let mut stream = match TcpStream::connect_timeout(addr, timeout) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Speaks::Refused,
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return Speaks::Timeout,
        Err(_) => return Speaks::Refused,
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    if stream.write_all(PREFACE).is_err() {
        return Speaks::Silent;
    }
    let mut buf = [0u8; 64];
    let mut got = 0;
    // A frame header is 9 bytes; a TLS record header 5; a status line a dozen.
    while got < 9 {
        match stream.read(&mut buf[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
        if classify(&buf[..got]).is_some() {
            break;
        }
    }
    classify(&buf[..got]).unwrap_or(Speaks::Silent)
}

fn classify(bytes: &[u8]) -> Option<Speaks> {
    // The preface reads as an HTTP/1 request line (`PRI * HTTP/2.0`): an HTTP/1 server
    // answers it in text, with a status line or (Python's, for a version it refuses) an
    // HTML page alone. gRPC and TLS answer in binary.
    if bytes.len() >= 5
        && bytes[..5]
            .iter()
            .all(|b| b.is_ascii_graphic() || *b == b' ')
    {
        let line = String::from_utf8_lossy(bytes);
        return Some(Speaks::Http1(line.lines().next().unwrap_or("").to_string()));
    }
    // TLS record: content type (21 alert, 22 handshake), then version 3.x.
    if bytes.len() >= 3 && (bytes[0] == 0x15 || bytes[0] == 0x16) && bytes[1] == 0x03 {
        return Some(Speaks::Tls);
    }
    // HTTP/2 frame header: 24-bit length, then the type; SETTINGS is 4.
    if bytes.len() >= 9 && bytes[3] == 0x04 {
        return Some(Speaks::Http2);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_bytes_tell_the_protocols_apart() {
        assert_eq!(
            classify(b"\x00\x00\x06\x04\x00\x00\x00\x00\x00"),
            Some(Speaks::Http2)
        );
        assert_eq!(classify(b"\x15\x03\x01\x00\x02\x02\x46"), Some(Speaks::Tls));
        assert_eq!(
            classify(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"),
            Some(Speaks::Http1("HTTP/1.1 400 Bad Request".into()))
        );
        assert_eq!(
            classify(b"<!DOCTYPE HTML>"),
            Some(Speaks::Http1("<!DOCTYPE HTML>".into()))
        );
        assert_eq!(classify(b"\x00\x00"), None);
    }
}
