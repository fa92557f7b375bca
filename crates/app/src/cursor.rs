//! Opaque pagination cursors. A cursor names the sort it belongs to and the last row's sort key
//! and id; anything that does not decode to exactly that is a 422, never a 500.

use crate::AppError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use leadzone_domain::ids::LeadId;
use leadzone_ports::leads::{LeadPosition, SortKey};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[derive(Serialize, Deserialize)]
struct Wire {
    /// The sort the cursor was made for.
    s: String,
    /// Sort key: unix nanoseconds, an integer, or text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<i128>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    i: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    x: Option<String>,
    id: uuid::Uuid,
}

pub fn encode(sort: &str, pos: &LeadPosition) -> String {
    let (t, i, x) = match &pos.key {
        SortKey::Time(v) => (Some(v.unix_timestamp_nanos()), None, None),
        SortKey::Int(v) => (None, Some(*v), None),
        SortKey::Text(v) => (None, None, Some(v.clone())),
    };
    let wire = Wire { s: sort.to_owned(), t, i, x, id: pos.id.as_uuid() };
    // Serialising this plain struct cannot fail; an empty cursor would only restart paging.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&wire).unwrap_or_default())
}

pub fn decode(sort: &str, cursor: &str) -> Result<LeadPosition, AppError> {
    let bad = || AppError::field("cursor", "is not a valid cursor for this query");
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).map_err(|_| bad())?;
    let wire: Wire = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if wire.s != sort {
        return Err(bad());
    }
    let key = match (wire.t, wire.i, wire.x) {
        (Some(t), None, None) => SortKey::Time(OffsetDateTime::from_unix_timestamp_nanos(t).map_err(|_| bad())?),
        (None, Some(i), None) => SortKey::Int(i),
        (None, None, Some(x)) => SortKey::Text(x),
        _ => return Err(bad()),
    };
    Ok(LeadPosition { key, id: LeadId::from_uuid(wire.id) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(key: SortKey) -> LeadPosition {
        LeadPosition { key, id: LeadId::from_uuid(uuid::Uuid::now_v7()) }
    }

    #[test]
    fn cursors_round_trip() {
        for p in [
            pos(SortKey::Time(OffsetDateTime::from_unix_timestamp_nanos(1_790_000_000_123_456_789).unwrap())),
            pos(SortKey::Int(-1)),
            pos(SortKey::Text("شركة النور".into())),
        ] {
            assert_eq!(decode("-createdAt", &encode("-createdAt", &p)).unwrap(), p);
        }
    }

    #[test]
    fn forged_cursors_are_validation_errors() {
        let good = encode("-createdAt", &pos(SortKey::Int(3)));
        for bad in ["", "!!!", "bm90IGpzb24", &good[..good.len() - 3]] {
            assert!(matches!(decode("-createdAt", bad), Err(AppError::Validation(_))), "{bad:?}");
        }
        // A cursor of another sort order is refused too.
        assert!(matches!(decode("score", &good), Err(AppError::Validation(_))));
        let huge = URL_SAFE_NO_PAD
            .encode(br#"{"s":"x","t":99999999999999999999999999999,"id":"00000000-0000-0000-0000-000000000000"}"#);
        assert!(decode("x", &huge).is_err());
    }
}
