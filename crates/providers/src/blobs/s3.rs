//! Blobs in AWS S3 or an S3-compatible store (MinIO, Cloudflare R2, Wasabi), through the
//! `object_store` crate: Apache Arrow's maintained client, which signs SigV4 requests, retries with
//! backoff, does multipart uploads and ranged reads, and reads credentials the way the AWS tools do
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, web identity, container
//! and instance credentials) — a small dependency next to the whole AWS SDK, on the same
//! reqwest + rustls stack as the other providers.

use super::{key_is_safe, unsafe_key};
use futures::StreamExt;
use leadzone_ports::RepoError;
use leadzone_ports::blobs::{BlobStore, ByteStream};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, RetryConfig, WriteMultipart};
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;
use time::OffsetDateTime;

/// Objects smaller than this go up in one request; larger ones as a multipart upload of parts
/// this size (S3's minimum part is 5 MiB), at most two parts in flight.
const PART: usize = 8 * 1024 * 1024;

/// Where the bucket is and who we are. Credentials left `None` are read from the `AWS_*`
/// environment (and the other places the AWS tools look).
#[derive(Clone, Default)]
pub struct S3Settings {
    pub bucket: String,
    /// Prepended to every key (`s3://bucket/prefix`), without slashes at either end.
    pub prefix: String,
    /// `LEADZONE_S3_ENDPOINT`: an S3-compatible server (path-style requests); absent for AWS.
    pub endpoint: Option<String>,
    /// `LEADZONE_S3_REGION`.
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<SecretString>,
    pub session_token: Option<SecretString>,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl S3Settings {
    /// Parses `s3://bucket[/prefix]`.
    pub fn from_url(url: &str) -> Result<Self, String> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| format!("{url:?} is not an s3:// URL"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.len() < 3 || !bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-".contains(c))
        {
            return Err(format!("{bucket:?} is not an S3 bucket name"));
        }
        let prefix = prefix.trim_matches('/').to_owned();
        if !prefix.is_empty() && !key_is_safe(&prefix) {
            return Err(format!("{prefix:?} is not a usable key prefix"));
        }
        Ok(Self { bucket: bucket.to_owned(), prefix, ..Default::default() })
    }
}

pub struct S3BlobStore {
    store: AmazonS3,
    prefix: String,
    /// Credential values to strip from any error text (an S3 error body can echo them).
    redact: Vec<String>,
}

impl std::fmt::Debug for S3BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3BlobStore({}, prefix {:?})", self.store, self.prefix)
    }
}

impl S3BlobStore {
    /// # Errors
    /// When the settings cannot make a client (a malformed endpoint, say).
    pub fn new(settings: &S3Settings) -> Result<Self, String> {
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&settings.bucket).with_retry(RetryConfig {
            max_retries: 3,
            retry_timeout: Duration::from_secs(30),
            ..RetryConfig::default()
        });
        if let Some(region) = &settings.region {
            builder = builder.with_region(region);
        }
        if let Some(endpoint) = &settings.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        if let Some(id) = &settings.access_key_id {
            builder = builder.with_access_key_id(id);
        }
        if let Some(secret) = &settings.secret_access_key {
            builder = builder.with_secret_access_key(secret.expose_secret());
        }
        if let Some(token) = &settings.session_token {
            builder = builder.with_token(token.expose_secret());
        }
        // The builder's own error names the setting, never a credential's value.
        let store = builder.build().map_err(|e| format!("the S3 blob store cannot be set up: {e}"))?;
        let redact = [
            settings.access_key_id.clone(),
            settings.secret_access_key.as_ref().map(|s| s.expose_secret().to_owned()),
            settings.session_token.as_ref().map(|s| s.expose_secret().to_owned()),
        ]
        .into_iter()
        .flatten()
        .filter(|v| v.len() >= 4)
        .collect();
        Ok(Self { store, prefix: settings.prefix.clone(), redact })
    }

    /// The store's error as the port's: NotFound, or a message without anything that signs a
    /// request. S3's error bodies (which object_store quotes) can carry the access key id, the
    /// canonical request with the session token, and the string to sign; those elements go, and
    /// so does any configured credential wherever it appears.
    fn err(&self, e: object_store::Error) -> RepoError {
        match e {
            object_store::Error::NotFound { .. } => RepoError::NotFound,
            other => RepoError::Other(format!("object storage: {}", redact(&other.to_string(), &self.redact))),
        }
    }

    fn path(&self, key: &str) -> Result<Path, RepoError> {
        if !key_is_safe(key) {
            return Err(unsafe_key(key));
        }
        let full = if self.prefix.is_empty() { key.to_owned() } else { format!("{}/{key}", self.prefix) };
        Path::parse(full).map_err(|e| RepoError::Other(e.to_string()))
    }
}

/// Elements of an S3 error body that echo what signed the request.
const SIGNING_ELEMENTS: [&str; 7] = [
    "AWSAccessKeyId",
    "StringToSign",
    "StringToSignBytes",
    "CanonicalRequest",
    "CanonicalRequestBytes",
    "SignatureProvided",
    "SessionToken",
];

/// `text` with the content of every signing element, and every one of `secrets`, redacted.
fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((at, element)) =
        SIGNING_ELEMENTS.iter().filter_map(|e| rest.find(&format!("<{e}>")).map(|i| (i, *e))).min_by_key(|(i, _)| *i)
    {
        let (open, close) = (format!("<{element}>"), format!("</{element}>"));
        out.push_str(&rest[..at]);
        out.push_str(&format!("{open}[redacted]{close}"));
        let after = &rest[at + open.len()..];
        rest = after.find(&close).map_or("", |end| &after[end + close.len()..]);
    }
    out.push_str(rest);
    for secret in secrets {
        out = out.replace(secret.as_str(), "[redacted]");
    }
    out
}

#[async_trait::async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, key: &str, data: &[u8]) -> Result<(), RepoError> {
        self.store.put(&self.path(key)?, data.to_vec().into()).await.map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn put_stream(&self, key: &str, mut body: ByteStream) -> Result<u64, RepoError> {
        let path = self.path(key)?;
        // A small object is one PUT; the first part's worth is buffered to find out.
        let mut head = Vec::new();
        let mut ended = true;
        while let Some(piece) = body.next().await {
            head.extend_from_slice(&piece?);
            if head.len() >= PART {
                ended = false;
                break;
            }
        }
        if ended {
            let n = head.len() as u64;
            self.store.put(&path, head.into()).await.map_err(|e| self.err(e))?;
            return Ok(n);
        }
        let upload = self.store.put_multipart(&path).await.map_err(|e| self.err(e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
        let mut n = head.len() as u64;
        writer.put(head.into());
        let streamed = async {
            while let Some(piece) = body.next().await {
                let piece = piece?;
                writer.wait_for_capacity(2).await.map_err(|e| self.err(e))?;
                n += piece.len() as u64;
                writer.put(piece.into());
            }
            Ok::<_, RepoError>(())
        }
        .await;
        match streamed {
            Ok(()) => {
                writer.finish().await.map_err(|e| self.err(e))?;
                Ok(n)
            }
            Err(e) => {
                // The parts uploaded so far are dropped; nothing appears under the key.
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(error = %abort, "an aborted multipart upload could not be cleaned up");
                }
                Err(e)
            }
        }
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, RepoError> {
        let res = self.store.get(&self.path(key)?).await.map_err(|e| self.err(e))?;
        Ok(res.bytes().await.map_err(|e| self.err(e))?.to_vec())
    }

    async fn read_at(&self, key: &str, offset: u64, max: usize) -> Result<Vec<u8>, RepoError> {
        let path = self.path(key)?;
        if max > 0 {
            // One request: a range that runs past the end returns the rest.
            match self.store.get_range(&path, offset..offset.saturating_add(max as u64)).await {
                Ok(bytes) => return Ok(bytes.to_vec()),
                Err(object_store::Error::NotFound { .. }) => return Err(RepoError::NotFound),
                // A range that starts at or past the end is refused: asked below whether the
                // object is there at all.
                Err(_) => {}
            }
        }
        let size = self.store.head(&path).await.map_err(|e| self.err(e))?.size;
        if offset >= size || max == 0 {
            return Ok(Vec::new());
        }
        let end = size.min(offset.saturating_add(max as u64));
        Ok(self.store.get_range(&path, offset..end).await.map_err(|e| self.err(e))?.to_vec())
    }

    async fn delete(&self, key: &str) -> Result<(), RepoError> {
        match self.store.delete(&self.path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err(e)),
        }
    }

    async fn folders(&self, folder: &str) -> Result<Vec<String>, RepoError> {
        let path = self.path(folder)?;
        let listed = self.store.list_with_delimiter(Some(&path)).await.map_err(|e| self.err(e))?;
        Ok(listed.common_prefixes.iter().filter_map(|p| p.filename().map(str::to_owned)).collect())
    }

    async fn delete_folder(&self, folder: &str) -> Result<u64, RepoError> {
        let path = self.path(folder)?;
        let mut listed = self.store.list(Some(&path));
        let mut removed = 0;
        while let Some(meta) = listed.next().await {
            let meta = meta.map_err(|e| self.err(e))?;
            match self.store.delete(&meta.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => removed += 1,
                Err(e) => return Err(self.err(e)),
            }
        }
        Ok(removed)
    }

    /// An upload that was never completed is invisible and is removed by the bucket's lifecycle
    /// rule `AbortIncompleteMultipartUpload` (`deploy/SCALING.md`).
    async fn purge_abandoned(&self, _before: OffsetDateTime) -> Result<u64, RepoError> {
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_bucket_and_an_optional_prefix() {
        let s = S3Settings::from_url("s3://leadzone-files/prod/eu").unwrap();
        assert_eq!((s.bucket.as_str(), s.prefix.as_str()), ("leadzone-files", "prod/eu"));
        assert_eq!(S3Settings::from_url("s3://leadzone-files").unwrap().prefix, "");
        assert_eq!(S3Settings::from_url("s3://leadzone-files/").unwrap().prefix, "");
        for bad in ["s3://", "s3://ab", "s3://Upper", "file:///x", "s3://bucket/../x"] {
            assert!(S3Settings::from_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn error_bodies_lose_what_signed_the_request() {
        let body = "Generic S3 error: <Error><Code>SignatureDoesNotMatch</Code><AWSAccessKeyId>AKIAEXAMPLEKEYID</AWSAccessKeyId>\
            <StringToSign>AWS4-HMAC-SHA256 20260101T000000Z</StringToSign><SignatureProvided>abc</SignatureProvided>\
            <CanonicalRequest>GET /b/k\nx-amz-security-token:FwoGZXIvYXdzEXAMPLETOKEN</CanonicalRequest></Error> \
            while talking to AKIAEXAMPLEKEYID";
        let clean = redact(body, &["AKIAEXAMPLEKEYID".into(), "FwoGZXIvYXdzEXAMPLETOKEN".into()]);
        for secret in ["AKIAEXAMPLEKEYID", "FwoGZXIvYXdzEXAMPLETOKEN", "AWS4-HMAC-SHA256 2026", ">abc<"] {
            assert!(!clean.contains(secret), "{secret} in {clean}");
        }
        assert!(clean.contains("<Code>SignatureDoesNotMatch</Code>"), "the reason stays: {clean}");
        assert!(clean.contains("<CanonicalRequest>[redacted]</CanonicalRequest></Error>"), "{clean}");
        // An element left open redacts to the end.
        assert_eq!(redact("a<StringToSign>secret", &[]), "a<StringToSign>[redacted]</StringToSign>");
    }

    #[test]
    fn debug_never_shows_a_credential() {
        let s = S3Settings {
            bucket: "b-1".into(),
            access_key_id: Some("AKIAEXAMPLEKEYID".into()),
            secret_access_key: Some(SecretString::from("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")),
            ..Default::default()
        };
        let shown = format!("{s:?}");
        assert!(!shown.contains("AKIAEXAMPLEKEYID") && !shown.contains("wJalrXUtnFEMI"), "{shown}");
    }
}
