//! Password hashing and opaque tokens.

use crate::RepoError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("crypto failure: {0}")]
pub struct CryptoError(pub String);

impl From<CryptoError> for RepoError {
    fn from(e: CryptoError) -> Self {
        RepoError::Other(e.0)
    }
}

/// Argon2id password hashing (PHC strings).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait PasswordHasher: Send + Sync {
    /// Hashes a password with a fresh salt.
    ///
    /// # Errors
    /// `CryptoError` only if the hasher itself fails (never for any password content).
    async fn hash(&self, password: &str) -> Result<String, CryptoError>;

    /// Whether `password` matches `phc`. A malformed `phc` is `Ok(false)`, not an error.
    ///
    /// # Errors
    /// `CryptoError` only if the hasher itself fails.
    async fn verify(&self, password: &str, phc: &str) -> Result<bool, CryptoError>;

    /// Spends the same work as a `verify` against a real hash and returns false: the
    /// unknown-email path must cost what a wrong password costs.
    async fn verify_dummy(&self, password: &str) -> bool;
}

/// Random opaque tokens and their stored form.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait Tokens: Send + Sync {
    /// A new random token (at least 256 bits of entropy) starting with `prefix`.
    fn generate(&self, prefix: &str) -> String;
    /// The stored form of a token: lowercase hex SHA-256.
    fn hash(&self, token: &str) -> String;
    /// Like `generate`, with a checksum suffix (`_XXXXXX`) that `checksum_valid` verifies offline.
    fn generate_with_checksum(&self, prefix: &str) -> String;
    fn checksum_valid(&self, token: &str) -> bool;
    /// HMAC-SHA256 of `data` under `key` (webhook signatures).
    fn hmac_sha256(&self, key: &[u8], data: &[u8]) -> Vec<u8>;
    /// A SHA-256 fed piece by piece (a streamed upload), whose `finish` equals `hash` of the
    /// whole: the same bytes give the same digest however they were split.
    fn digest(&self) -> Box<dyn ContentDigest>;
}

/// An incremental SHA-256 (see `Tokens::digest`).
pub trait ContentDigest: Send {
    fn update(&mut self, data: &[u8]);
    /// Lowercase hex.
    fn finish(self: Box<Self>) -> String;
}

/// Symmetric encryption of secrets the server must read back (AES-256-GCM with key ids).
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait SecretBox: Send + Sync {
    /// # Errors
    /// Only if encryption itself fails.
    fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError>;
    /// # Errors
    /// When the data was tampered with or sealed under an unknown key.
    fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, CryptoError>;
}

/// Time-based one-time passwords (RFC 6238).
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait Totp: Send + Sync {
    fn new_secret(&self) -> Vec<u8>;
    /// The secret as shown to the user (base32).
    fn encode_secret(&self, secret: &[u8]) -> String;
    /// The time step `code` belongs to when it is valid at `unix_time` (allowing one step of clock
    /// drift), so a caller can refuse a step that was already used (RFC 6238 §5.2).
    fn verify(&self, secret: &[u8], code: &str, unix_time: i64) -> Option<i64>;
    fn otpauth_url(&self, secret: &[u8], account: &str) -> String;
}
