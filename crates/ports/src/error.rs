//! The error every storage port returns. Nothing above the adapter ever sees a driver error.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepoError {
    /// The row does not exist, or is invisible in the current tenant.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken (SQLSTATE 23505); the text names the constraint.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached (connection refused, pool timeout).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug or a corrupted row. The text is for logs, never for clients.
    #[error("storage error: {0}")]
    Other(String),
}

/// A conversion that cannot fail (`From`) used where a fallible one may stand (`TryFrom`).
impl From<std::convert::Infallible> for RepoError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}
