//! The one mapping from driver errors to `RepoError`.

use leadzone_ports::RepoError;
use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// Unique violations (SQLSTATE 23505) become `Conflict` naming the constraint; lost, ended or
/// refused connections become `Unavailable`; "no row" becomes `NotFound`; the rest is `Other`.
pub fn db_err(e: DbErr) -> RepoError {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(message)) => {
            return RepoError::Conflict(constraint_name(&message).unwrap_or(message));
        }
        // A reference to a row that does not exist (or not in this tenant).
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => return RepoError::NotFound,
        _ => {}
    }
    match &e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => RepoError::Unavailable(e.to_string()),
        DbErr::Exec(RuntimeErr::SqlxError(inner)) | DbErr::Query(RuntimeErr::SqlxError(inner))
            if matches!(
                **inner,
                sea_orm::sqlx::Error::Io(_)
                    | sea_orm::sqlx::Error::PoolTimedOut
                    | sea_orm::sqlx::Error::PoolClosed
                    | sea_orm::sqlx::Error::Tls(_)
            ) =>
        {
            RepoError::Unavailable(e.to_string())
        }
        // The server ended the connection (a restart, a failover, a terminated backend) or will
        // not take one now: connection exceptions (class 08) and 57P01–57P03.
        DbErr::Exec(RuntimeErr::SqlxError(inner)) | DbErr::Query(RuntimeErr::SqlxError(inner))
            if inner
                .as_database_error()
                .and_then(|d| d.code())
                .is_some_and(|c| c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03")) =>
        {
            RepoError::Unavailable(e.to_string())
        }
        // An update that matched no row: the row was deleted (or is invisible) meanwhile.
        DbErr::RecordNotFound(_) | DbErr::RecordNotUpdated => RepoError::NotFound,
        _ => RepoError::Other(e.to_string()),
    }
}

/// `duplicate key value violates unique constraint "users_email_key"` → `users_email_key`.
fn constraint_name(message: &str) -> Option<String> {
    let start = message.find("constraint \"")? + "constraint \"".len();
    let rest = message.get(start..)?;
    Some(rest.get(..rest.find('"')?)?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraint_names_are_extracted() {
        assert_eq!(
            constraint_name(r#"duplicate key value violates unique constraint "users_email_key""#).as_deref(),
            Some("users_email_key")
        );
        assert_eq!(constraint_name("something else"), None);
    }

    #[test]
    fn pool_timeouts_are_unavailable() {
        let e = DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout);
        assert!(matches!(db_err(e), RepoError::Unavailable(_)));
        assert_eq!(db_err(DbErr::RecordNotFound("x".into())), RepoError::NotFound);
    }
}
