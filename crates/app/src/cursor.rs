//! Opaque pagination cursors. A cursor names the sort it belongs to and the last row's sort key
//! and id; anything that does not decode to exactly that is a 422, never a 500.

use crate::AppError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use leadzone_domain::ids::LeadId;
use leadzone_domain::leads::LeadSort;
use leadzone_ports::leads::{LeadPosition, Relevance, SortKey};
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
    /// Text: the name's duplicate key (`sort=companyName`, migration 0015). Cursors made before
    /// carried the raw name as `x`; they are refused (422) rather than read as a key, which would
    /// repeat or skip rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    k: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    r: Option<f32>,
    /// A relevance search's window: the oldest ranked row's time (unix nanoseconds) and id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    w: Option<(i128, uuid::Uuid)>,
    id: uuid::Uuid,
}

pub fn encode(sort: &str, pos: &LeadPosition) -> String {
    let (t, i, k, r, w) = match &pos.key {
        SortKey::Time(v) => (Some(v.unix_timestamp_nanos()), None, None, None, None),
        SortKey::Int(v) => (None, Some(*v), None, None, None),
        SortKey::Text(v) => (None, None, Some(v.clone()), None, None),
        SortKey::Relevance { window, at } => {
            let w = window.map(|(at, id)| (at.unix_timestamp_nanos(), id.as_uuid()));
            match at {
                Relevance::Ranked(v) => (None, None, None, Some(*v), w),
                Relevance::Older(v) => (Some(v.unix_timestamp_nanos()), None, None, None, w),
            }
        }
    };
    let wire = Wire { s: sort.to_owned(), t, i, k, r, w, id: pos.id.as_uuid() };
    // Serialising this plain struct cannot fail; an empty cursor would only restart paging.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&wire).unwrap_or_default())
}

/// Decodes a cursor made for `sort` (named `sort_name` on the wire). The key must have the sort's
/// type and a value the database can compare: a forged cursor is 422, never a database error.
pub fn decode_for(sort_name: &str, sort: LeadSort, cursor: &str) -> Result<LeadPosition, AppError> {
    let pos = decode(sort_name, cursor)?;
    let fits = match (&pos.key, sort) {
        (SortKey::Time(t), LeadSort::CreatedAtDesc | LeadSort::CreatedAtAsc | LeadSort::UpdatedAtDesc) => {
            (1970..=9999).contains(&t.year())
        }
        (SortKey::Int(i), LeadSort::ScoreDesc | LeadSort::ScoreAsc) => (-1..=100).contains(i),
        (SortKey::Text(x), LeadSort::CompanyNameAsc) => x.len() <= 1024 && !x.contains('\0'),
        (SortKey::Relevance { window, at }, LeadSort::Relevance) => {
            let year_ok = |t: &OffsetDateTime| (1970..=9999).contains(&t.year());
            window.as_ref().is_none_or(|(t, _)| year_ok(t))
                && match at {
                    Relevance::Ranked(r) => r.is_finite(),
                    Relevance::Older(t) => year_ok(t),
                }
        }
        _ => false,
    };
    if fits { Ok(pos) } else { Err(AppError::field("cursor", "is not a valid cursor for this query")) }
}

pub fn decode(sort: &str, cursor: &str) -> Result<LeadPosition, AppError> {
    let bad = || AppError::field("cursor", "is not a valid cursor for this query");
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).map_err(|_| bad())?;
    let wire: Wire = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if wire.s != sort {
        return Err(bad());
    }
    let time = |t: i128| OffsetDateTime::from_unix_timestamp_nanos(t).map_err(|_| bad());
    let window = match wire.w {
        Some((t, id)) => Some((time(t)?, LeadId::from_uuid(id))),
        None => None,
    };
    let relevance = sort == "relevance";
    let key = match (wire.t, wire.i, wire.k, wire.r) {
        (Some(t), None, None, None) if relevance => SortKey::Relevance { window, at: Relevance::Older(time(t)?) },
        (None, None, None, Some(r)) if relevance && r.is_finite() => {
            SortKey::Relevance { window, at: Relevance::Ranked(r) }
        }
        _ if relevance || window.is_some() => return Err(bad()),
        (Some(t), None, None, None) => SortKey::Time(time(t)?),
        (None, Some(i), None, None) => SortKey::Int(i),
        (None, None, Some(x), None) => SortKey::Text(x),
        _ => return Err(bad()),
    };
    Ok(LeadPosition { key, id: LeadId::from_uuid(wire.id) })
}

/// A listing's `?limit=`: absent or blank is the default page (50); anything but an integer from 1
/// to 200 records one error on `limit` (every listing says it the same way).
pub fn parse_limit(raw: Option<&str>, v: &mut leadzone_domain::error::Validator) -> u64 {
    match raw.map(str::trim).filter(|l| !l.is_empty()) {
        None => crate::leads::DEFAULT_PAGE,
        Some(l) => match l.parse::<u64>() {
            Ok(n) if (1..=crate::leads::MAX_PAGE).contains(&n) => n,
            _ => {
                v.push("limit", format!("must be an integer from 1 to {}", crate::leads::MAX_PAGE));
                crate::leads::DEFAULT_PAGE
            }
        },
    }
}

/// One page of a small, bounded collection (a tenant's lists, members, invites, API keys, a lead's
/// evidence) that the use case has already loaded whole: rows are ordered by id (UUIDv7, so by
/// creation) and the cursor is the last id shown, so paging stays exact when rows come and go.
/// `limit` and `cursor` are validated like every other listing's (422 when bad).
///
/// # Errors
/// 422 for a limit outside 1–200 or a cursor this function did not make.
pub fn page_by_id<T>(
    mut rows: Vec<T>,
    id_of: impl Fn(&T) -> uuid::Uuid,
    limit: Option<String>,
    cursor: Option<String>,
) -> Result<crate::leads::Page<T>, AppError> {
    let mut v = leadzone_domain::error::Validator::new();
    let limit = parse_limit(limit.as_deref(), &mut v);
    let after = match cursor.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => {
            let decoded = URL_SAFE_NO_PAD
                .decode(c.as_bytes())
                .ok()
                .and_then(|b| serde_json::from_slice::<IdCursor>(&b).ok())
                .map(|w| w.after);
            if decoded.is_none() {
                v.push("cursor", "is not a valid cursor for this query");
            }
            decoded
        }
    };
    v.finish()?;
    rows.sort_by_key(|r| id_of(r));
    if let Some(after) = after {
        rows.retain(|r| id_of(r) > after);
    }
    Ok(crate::leads::Page::of_overfetched(rows, limit, |r| {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&IdCursor { after: id_of(r) }).unwrap_or_default())
    }))
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdCursor {
    after: uuid::Uuid,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(key: SortKey) -> LeadPosition {
        LeadPosition { key, id: LeadId::from_uuid(uuid::Uuid::now_v7()) }
    }

    #[test]
    fn small_collections_page_by_id() {
        let ids: Vec<uuid::Uuid> = (0..5).map(|_| uuid::Uuid::now_v7()).collect();
        let mut rows = ids.clone();
        rows.reverse();
        let first = page_by_id(rows.clone(), |r| *r, Some("2".into()), None).unwrap();
        assert_eq!(first.data, ids[..2]);
        let second = page_by_id(rows.clone(), |r| *r, Some("2".into()), first.next_cursor).unwrap();
        assert_eq!(second.data, ids[2..4]);
        let last = page_by_id(rows.clone(), |r| *r, Some("2".into()), second.next_cursor).unwrap();
        assert_eq!((last.data, last.next_cursor), (ids[4..].to_vec(), None));
        for (limit, cursor) in [(Some("0"), None), (Some("201"), None), (Some("abc"), None), (None, Some("forged"))] {
            let r = page_by_id(rows.clone(), |r| *r, limit.map(Into::into), cursor.map(Into::into));
            assert!(matches!(r, Err(AppError::Validation(_))), "{limit:?} {cursor:?}");
        }
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
        let window = Some((
            OffsetDateTime::from_unix_timestamp_nanos(1_790_000_000_000_001_000).unwrap(),
            pos(SortKey::Int(0)).id,
        ));
        for at in [Relevance::Ranked(0.0607927), Relevance::Older(OffsetDateTime::UNIX_EPOCH)] {
            for window in [None, window] {
                let p = pos(SortKey::Relevance { window, at });
                assert_eq!(decode_for("relevance", LeadSort::Relevance, &encode("relevance", &p)).unwrap(), p);
            }
        }
    }

    /// A relevance cursor carries its window; one is refused for any other sort, and a window
    /// on a sort that has none.
    #[test]
    fn relevance_cursors_keep_their_window_and_their_sort() {
        let ranked = encode("relevance", &pos(SortKey::Relevance { window: None, at: Relevance::Ranked(0.5) }));
        assert!(decode_for("-createdAt", LeadSort::CreatedAtDesc, &ranked).is_err());
        let with_window = URL_SAFE_NO_PAD.encode(
            br#"{"s":"-createdAt","t":1,"w":[1,"00000000-0000-0000-0000-000000000000"],"id":"00000000-0000-0000-0000-000000000000"}"#,
        );
        assert!(decode("-createdAt", &with_window).is_err());
        let nan = URL_SAFE_NO_PAD.encode(br#"{"s":"relevance","i":3,"id":"00000000-0000-0000-0000-000000000000"}"#);
        assert!(decode("relevance", &nan).is_err());
    }

    #[test]
    fn a_cursor_must_fit_its_sort() {
        let time_cursor = encode("-createdAt", &pos(SortKey::Time(OffsetDateTime::UNIX_EPOCH)));
        assert!(decode_for("-createdAt", LeadSort::CreatedAtDesc, &time_cursor).is_ok());
        let int_cursor = encode("-createdAt", &pos(SortKey::Int(1)));
        assert!(decode_for("-createdAt", LeadSort::CreatedAtDesc, &int_cursor).is_err());
        let ancient =
            encode("-createdAt", &pos(SortKey::Time(OffsetDateTime::from_unix_timestamp(-200_000_000_000).unwrap())));
        assert!(decode_for("-createdAt", LeadSort::CreatedAtDesc, &ancient).is_err());
        let nul = encode("companyName", &pos(SortKey::Text("a\0b".into())));
        assert!(decode_for("companyName", LeadSort::CompanyNameAsc, &nul).is_err());
        // A company-name cursor from before migration 0015 (the raw name as `x`).
        let old_name = URL_SAFE_NO_PAD
            .encode(br#"{"s":"companyName","x":"Alpha Co","id":"00000000-0000-0000-0000-000000000000"}"#);
        assert!(decode_for("companyName", LeadSort::CompanyNameAsc, &old_name).is_err());
        let score = encode("-score", &pos(SortKey::Int(1_000_000)));
        assert!(decode_for("-score", LeadSort::ScoreDesc, &score).is_err());
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
