//! The tail every repository read repeats: run the select in the transaction, map SeaORM's
//! error, turn each row into its domain type.

use crate::error::db_err;
use leadzone_ports::RepoError;
use sea_orm::{ConnectionTrait, EntityTrait, Select};

/// A select's rows as domain types (`From` or `TryFrom` the entity's model).
pub(crate) trait Fetch<M> {
    /// The one row; `NotFound` when there is none.
    async fn found<D>(self, c: &impl ConnectionTrait) -> Result<D, RepoError>
    where
        D: TryFrom<M>,
        RepoError: From<D::Error>;

    /// The one row, if there is one.
    async fn maybe<D>(self, c: &impl ConnectionTrait) -> Result<Option<D>, RepoError>
    where
        D: TryFrom<M>,
        RepoError: From<D::Error>;

    /// Every row, in the select's order.
    async fn rows<D>(self, c: &impl ConnectionTrait) -> Result<Vec<D>, RepoError>
    where
        D: TryFrom<M>,
        RepoError: From<D::Error>;
}

impl<E: EntityTrait> Fetch<E::Model> for Select<E> {
    async fn found<D>(self, c: &impl ConnectionTrait) -> Result<D, RepoError>
    where
        D: TryFrom<E::Model>,
        RepoError: From<D::Error>,
    {
        self.maybe(c).await?.ok_or(RepoError::NotFound)
    }

    async fn maybe<D>(self, c: &impl ConnectionTrait) -> Result<Option<D>, RepoError>
    where
        D: TryFrom<E::Model>,
        RepoError: From<D::Error>,
    {
        Ok(self.one(c).await.map_err(db_err)?.map(D::try_from).transpose()?)
    }

    async fn rows<D>(self, c: &impl ConnectionTrait) -> Result<Vec<D>, RepoError>
    where
        D: TryFrom<E::Model>,
        RepoError: From<D::Error>,
    {
        let rows = self.all(c).await.map_err(db_err)?;
        Ok(rows.into_iter().map(D::try_from).collect::<Result<_, _>>()?)
    }
}
