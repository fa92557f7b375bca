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
}
