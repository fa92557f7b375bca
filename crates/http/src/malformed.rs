//! Requests too malformed to reach any handler — a request line with raw UTF-8 bytes
//! (`GET /api/v1/leads?q=الرياض`), a header the parser refuses, a head over the size limit — are
//! answered by actix-http's codec itself, with an empty 400 (or 431) and an ERROR log line. This
//! connection wrapper turns that one answer into the contract's problem+json, and the server logs
//! it at INFO: a client's mistake pages nobody.
//!
//! It only ever rewrites a write that is exactly the codec's bodiless error head; every handler's
//! error carries a problem body, so nothing a handler says is touched.

use crate::problem::{Lang, Problem};
use actix_web::http::StatusCode;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection whose codec-level error answers become problem+json.
pub struct ProblemIo<T> {
    inner: T,
    /// Bytes of a rewritten answer not yet written.
    pending: Vec<u8>,
}

impl<T> ProblemIo<T> {
    pub fn new(inner: T) -> Self {
        Self { inner, pending: Vec::new() }
    }
}

/// The problem answer that replaces the codec's bodiless `head`, if `head` is one.
pub fn rewrite(head: &[u8]) -> Option<Vec<u8>> {
    let status = if head.starts_with(b"HTTP/1.1 400 ") || head.starts_with(b"HTTP/1.0 400 ") {
        StatusCode::BAD_REQUEST
    } else if head.starts_with(b"HTTP/1.1 431 ") || head.starts_with(b"HTTP/1.0 431 ") {
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    } else {
        return None;
    };
    let text = std::str::from_utf8(head).ok()?.to_ascii_lowercase();
    if !text.ends_with("\r\n\r\n") || !text.contains("\r\ncontent-length: 0\r\n") {
        return None;
    }
    let mut problem = Problem::new(status, leadzone_app::error::ProblemCode::BadRequest);
    problem.errors.push(leadzone_domain::FieldError::new(
        "request",
        if status == StatusCode::BAD_REQUEST {
            "is not a valid HTTP request: percent-encode non-ASCII characters in the path and query"
        } else {
            "has headers larger than the server accepts"
        },
    ));
    let id = uuid::Uuid::now_v7().to_string();
    tracing::info!(request_id = %id, status = status.as_u16(), "refused a malformed request");
    let body = problem.body(Lang::En, Some(&id)).to_string();
    let reason = status.canonical_reason().unwrap_or("Bad Request");
    let head = format!(
        "HTTP/1.1 {} {reason}\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\nx-request-id: {id}\r\nx-content-type-options: nosniff\r\nconnection: close\r\n\r\n",
        status.as_u16(),
        body.len()
    );
    Some([head.into_bytes(), body.into_bytes()].concat())
}

impl<T: AsyncWrite + Unpin> ProblemIo<T> {
    /// Writes what a rewrite left pending; `Ready(Ok)` once nothing is.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            match Pin::new(&mut self.inner).poll_write(cx, &self.pending) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.pending.drain(..n.min(self.pending.len()));
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ProblemIo<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ProblemIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.drain(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        if let Some(answer) = rewrite(buf) {
            self.pending = answer;
            // The codec's bytes count as written; ours go out before anything else.
            let _ = self.drain(cx);
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_codecs_bodiless_error_heads_are_rewritten() {
        let codec = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\ndate: Mon, 30 Nov 2026 23:00:00 GMT\r\n\r\n";
        let answer = String::from_utf8(rewrite(codec).unwrap()).unwrap();
        assert!(answer.starts_with("HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\n"));
        let body: serde_json::Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(body["code"], "BAD_REQUEST");
        assert_eq!(body["errors"][0]["field"], "request");
        let too_large = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";
        assert!(String::from_utf8(rewrite(too_large).unwrap()).unwrap().starts_with("HTTP/1.1 431 "));
        // A handler's problem has a body; a success is never touched.
        let handler =
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 120\r\ncontent-type: application/problem+json\r\n\r\n";
        assert!(rewrite(handler).is_none());
        assert!(rewrite(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
    }
}
