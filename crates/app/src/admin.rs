//! Platform operators: a bearer token from the environment, compared in constant time. Without a
//! configured token the admin API does not exist (404).

use crate::AppError;
use crate::leads::Page;
use leadzone_domain::entities::Tenant;
use leadzone_domain::enums::TenantStatus;
use leadzone_domain::ids::TenantId;

/// Hex digits to bytes; `None` for an odd length or a non-hex digit (signature headers).
pub(crate) fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect()
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    // Length is not secret (the token's length is fixed by whoever set it); content is.
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

crate::service! {
    /// Platform administration (the operators' bearer token).
    Admin { ports: [platform, clock, config] }
}

impl Admin {
    /// `NotFound` when the admin API is off; `Unauthenticated` for a missing or wrong token.
    pub fn authenticate_admin(&self, bearer: Option<&str>) -> Result<(), AppError> {
        use secrecy::ExposeSecret;
        let Some(expected) = self.config.admin_token.as_ref().map(|t| t.expose_secret()).filter(|t| !t.is_empty())
        else {
            return Err(AppError::NotFound);
        };
        match bearer {
            Some(given) if constant_time_eq(given.as_bytes(), expected.as_bytes()) => Ok(()),
            _ => Err(AppError::Unauthenticated),
        }
    }

    /// Every tenant, oldest first, a page at a time: `limit` 1–200 (default 50), `cursor` the
    /// previous page's `nextCursor`.
    pub async fn admin_list_tenants(
        &self,
        limit: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<Page<Tenant>, AppError> {
        let mut v = leadzone_domain::error::Validator::new();
        let limit = crate::cursor::parse_limit(limit, &mut v);
        v.finish()?;
        let after = cursor
            .map(|c| c.parse::<TenantId>().map_err(|_| AppError::field("cursor", "is not a valid cursor")))
            .transpose()?;
        let rows = self.platform.list_tenants(after, limit + 1).await?;
        Ok(Page::of_overfetched(rows, limit, |t| t.id.to_string()))
    }

    pub async fn admin_set_tenant_status(&self, tenant: TenantId, status: TenantStatus) -> Result<Tenant, AppError> {
        Ok(self.platform.set_tenant_status(tenant, status, self.clock.now()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeTx, app_with};

    #[test]
    fn admin_api_is_off_without_a_token_and_checks_it_otherwise() {
        assert_eq!(app_with(FakeTx::default()).admin.authenticate_admin(Some("x")), Err(AppError::NotFound));
        let mut ports = crate::testing::ports_with_txs(vec![FakeTx::default()]);
        std::sync::Arc::make_mut(&mut ports.config).admin_token =
            Some(secrecy::SecretString::from("s3cret-operator-token"));
        let app = crate::App::new(ports);
        assert_eq!(app.admin.authenticate_admin(None), Err(AppError::Unauthenticated));
        assert_eq!(app.admin.authenticate_admin(Some("s3cret-operator-tokeN")), Err(AppError::Unauthenticated));
        assert_eq!(app.admin.authenticate_admin(Some("s3cret")), Err(AppError::Unauthenticated));
        assert!(app.admin.authenticate_admin(Some("s3cret-operator-token")).is_ok());
    }
}
