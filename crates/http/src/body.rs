//! Reading JSON bodies without ever answering 500: a bounded read, a syntax check (400), then
//! field-by-field extraction that reports every wrongly-typed field at once (422).

use crate::problem::ApiError;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures::StreamExt;
use leadzone_app::AppError;
use leadzone_domain::FieldError;
use serde_json::{Map, Value};
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;

/// Largest JSON body accepted (imports have their own, larger limit).
pub const MAX_JSON_BYTES: usize = 1 << 20;

/// A JSON object body. An empty body reads as `{}` so that bodiless POSTs work.
pub struct JsonBody(pub Map<String, Value>);

impl FromRequest for JsonBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let read = read_json_object(req, payload);
        Box::pin(async move { read.await.map(JsonBody) })
    }
}

/// A body being read as a JSON object.
pub(crate) type ObjectFuture = Pin<Box<dyn Future<Output = Result<Map<String, Value>, ApiError>>>>;

/// Reads a bounded body and parses it as a JSON object: an empty body is `{}` (bodiless POSTs),
/// a body that is not JSON is 400, a non-object or a NUL anywhere is 422.
pub(crate) fn read_json_object(_req: &HttpRequest, payload: &mut Payload) -> ObjectFuture {
    let mut payload = payload.take();
    Box::pin(async move {
        let mut buf = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| ApiError::BadRequest(e.to_string()))?;
            if buf.len() + chunk.len() > MAX_JSON_BYTES {
                return Err(ApiError::PayloadTooLarge);
            }
            buf.extend_from_slice(&chunk);
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            return Ok(Map::new());
        }
        match serde_json::from_slice::<Value>(&buf) {
            Ok(Value::Object(map)) => {
                // PostgreSQL cannot store NUL in text or jsonb; refuse it at the door, naming
                // the top-level field that carries it.
                let bad: Vec<FieldError> = map
                    .iter()
                    .filter(|(k, v)| k.contains('\0') || contains_nul(v))
                    .map(|(k, _)| FieldError::new(k.replace('\0', ""), "must not contain NUL characters"))
                    .collect();
                if bad.is_empty() { Ok(map) } else { Err(AppError::Validation(bad).into()) }
            }
            Ok(_) => Err(AppError::field("body", "must be a JSON object").into()),
            Err(e) => Err(ApiError::BadRequest(format!("body is not valid JSON: {e}"))),
        }
    })
}

fn contains_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || contains_nul(v)),
        _ => false,
    }
}

/// Typed access to a JSON object's fields, collecting one error per bad field.
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    pub fn new(map: &'a Map<String, Value>) -> Self {
        Self { map, errors: Vec::new() }
    }

    fn present(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    fn bad(&mut self, name: &str, message: &str) {
        self.errors.push(FieldError::new(name, message));
    }

    /// A required string; missing or wrongly typed records an error and yields "".
    pub fn string(&mut self, name: &str) -> String {
        match self.present(name) {
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                self.bad(name, "must be a string");
                String::new()
            }
            None => {
                self.bad(name, "is required");
                String::new()
            }
        }
    }

    pub fn opt_string(&mut self, name: &str) -> Option<String> {
        match self.present(name) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.bad(name, "must be a string");
                None
            }
            None => None,
        }
    }

    /// For PATCH: absent → `None` (leave as is), `null` → `Some(None)` (clear), a string → `Some(Some(..))`.
    pub fn patch_string(&mut self, name: &str) -> Option<Option<String>> {
        match self.map.get(name) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(s)) => Some(Some(s.clone())),
            Some(_) => {
                self.bad(name, "must be a string or null");
                None
            }
        }
    }

    /// A nested object's fields (`settings` in `PATCH /tenant`); a non-object is an error.
    pub fn object(&mut self, name: &str) -> Option<Map<String, Value>> {
        match self.present(name) {
            Some(Value::Object(m)) => Some(m.clone()),
            Some(_) => {
                self.bad(name, "must be an object");
                None
            }
            None => None,
        }
    }

    /// A lead filter object (`POST /leads/bulk`, `POST /exports`) as the query pairs of
    /// `GET /leads`, so that one parser serves all three; a list repeats its key. Only `keys` may
    /// appear, each a string, number, boolean or non-empty list of strings: a misspelt key, a
    /// `null` or an empty list would otherwise drop out and widen the filter — for a bulk delete,
    /// to every visible lead. Errors name `name.key`.
    pub fn filter_pairs(&mut self, name: &str, keys: &[&str]) -> Option<Vec<(String, String)>> {
        let filter = self.object(name)?;
        let mut pairs = Vec::new();
        for (key, value) in filter {
            let field = format!("{name}.{key}");
            if !keys.contains(&key.as_str()) {
                self.bad(&field, "is not a lead filter");
                continue;
            }
            match value {
                Value::String(s) => pairs.push((key, s)),
                Value::Number(n) => pairs.push((key, n.to_string())),
                Value::Bool(b) => pairs.push((key, b.to_string())),
                Value::Null => self.bad(&field, "must not be null (leave it out)"),
                Value::Array(items) if items.is_empty() => self.bad(&field, "must not be an empty list"),
                Value::Array(items) => {
                    if items.iter().all(Value::is_string) {
                        pairs.extend(items.into_iter().filter_map(|i| match i {
                            Value::String(s) => Some((key.clone(), s)),
                            _ => None,
                        }));
                    } else {
                        self.bad(&field, "must be a list of strings");
                    }
                }
                Value::Object(_) => self.bad(&field, "must be a string, number, boolean or list of strings"),
            }
        }
        Some(pairs)
    }

    /// Records errors found by a nested `Fields`, prefixing their field names.
    pub fn absorb(&mut self, prefix: &str, nested: Fields<'_>) {
        for e in nested.errors {
            self.errors.push(FieldError::new(format!("{prefix}.{}", e.field), e.message));
        }
    }

    /// PATCH integer: absent → `None`, `null` → `Some(None)`.
    pub fn patch_i32(&mut self, name: &str) -> Option<Option<i32>> {
        match self.map.get(name) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(_) => self.opt_i32(name).map(Some),
        }
    }

    /// PATCH parsed value: absent → `None`, `null` → `Some(None)`, else parsed or an error.
    pub fn patch_parsed<T: FromStr>(&mut self, name: &str, what: &str) -> Option<Option<T>> {
        match self.map.get(name) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(_) => self.opt_parsed(name, what).map(Some),
        }
    }

    pub fn opt_i32(&mut self, name: &str) -> Option<i32> {
        match self.present(name) {
            Some(Value::Number(n)) => match n.as_i64().and_then(|v| i32::try_from(v).ok()) {
                Some(v) => Some(v),
                None => {
                    self.bad(name, "must be an integer");
                    None
                }
            },
            Some(_) => {
                self.bad(name, "must be an integer");
                None
            }
            None => None,
        }
    }

    pub fn opt_bool(&mut self, name: &str) -> Option<bool> {
        match self.present(name) {
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.bad(name, "must be true or false");
                None
            }
            None => None,
        }
    }

    pub fn string_list(&mut self, name: &str) -> Vec<String> {
        match self.present(name) {
            Some(Value::Array(items)) => {
                let strings: Option<Vec<String>> = items.iter().map(|v| v.as_str().map(str::to_owned)).collect();
                strings.unwrap_or_else(|| {
                    self.bad(name, "must be a list of strings");
                    Vec::new()
                })
            }
            Some(_) => {
                self.bad(name, "must be a list of strings");
                Vec::new()
            }
            None => Vec::new(),
        }
    }

    /// A required value parsed from a string; missing records "is required".
    pub fn parsed<T: FromStr>(&mut self, name: &str, what: &str) -> Option<T> {
        if self.present(name).is_none() {
            self.bad(name, "is required");
            return None;
        }
        self.opt_parsed(name, what)
    }

    /// An optional value parsed from a string (ids, enum spellings).
    pub fn opt_parsed<T: FromStr>(&mut self, name: &str, what: &str) -> Option<T> {
        let raw = self.opt_string(name)?;
        match T::from_str(raw.trim()) {
            Ok(v) => Some(v),
            Err(_) => {
                self.bad(name, &format!("must be {what}"));
                None
            }
        }
    }

    /// A required boolean.
    pub fn bool(&mut self, name: &str) -> Option<bool> {
        if self.present(name).is_none() {
            self.bad(name, "is required");
            return None;
        }
        self.opt_bool(name)
    }

    /// An optional RFC 3339 time (`2027-01-31T00:00:00Z`).
    pub fn opt_time(&mut self, name: &str) -> Option<time::OffsetDateTime> {
        let raw = self.opt_string(name)?;
        match time::OffsetDateTime::parse(raw.trim(), &time::format_description::well_known::Rfc3339) {
            Ok(t) => Some(t),
            Err(_) => {
                self.bad(name, "must be an RFC 3339 time");
                None
            }
        }
    }

    pub fn opt_json(&self, name: &str) -> Option<Value> {
        self.present(name).cloned()
    }

    /// Ok when every field read so far was well typed.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() { Ok(()) } else { Err(AppError::Validation(self.errors).into()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_wrongly_typed_field_is_reported() {
        let body = json!({"email": 5, "tags": ["a", 1], "score": "high", "flag": "yes", "id": "nope"});
        let map = body.as_object().unwrap();
        let mut f = Fields::new(map);
        assert_eq!(f.string("email"), "");
        assert_eq!(f.string("name"), "");
        assert!(f.string_list("tags").is_empty());
        assert_eq!(f.opt_i32("score"), None);
        assert_eq!(f.opt_bool("flag"), None);
        assert_eq!(f.opt_parsed::<uuid::Uuid>("id", "a UUID"), None);
        assert_eq!(f.parsed::<uuid::Uuid>("tenantId", "a UUID"), None);
        let Err(ApiError::App(AppError::Validation(errors))) = f.finish() else { panic!("expected 422") };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["email", "name", "tags", "score", "flag", "id", "tenantId"]);
        assert_eq!(errors.last().map(|e| e.message.as_str()), Some("is required"));
    }

    #[test]
    fn booleans_times_and_filters_are_checked() {
        let body = json!({
            "on": true, "at": "2027-01-31T10:00:00+03:00", "when": "tomorrow",
            "filter": {"status": ["NEW", "LOST"], "hasPhone": true, "scoreMin": 40},
            "nested": {"city": {"eq": "Riyadh"}, "status": [], "scoreMin": null, "stauts": "NEW", "hasPhone": [true]}
        });
        let map = body.as_object().unwrap();
        let mut f = Fields::new(map);
        assert_eq!(f.bool("on"), Some(true));
        assert_eq!(f.opt_time("at").map(|t| t.unix_timestamp()), Some(1_801_378_800));
        assert_eq!(f.opt_time("missing"), None);
        let keys = ["status", "hasPhone", "scoreMin", "city"];
        let pairs = f.filter_pairs("filter", &keys).unwrap();
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(pairs, [("hasPhone", "true"), ("scoreMin", "40"), ("status", "NEW"), ("status", "LOST")]);
        assert!(f.finish().is_ok());

        let mut f = Fields::new(map);
        assert_eq!(f.bool("off"), None);
        assert_eq!(f.opt_time("when"), None);
        assert_eq!(f.filter_pairs("nested", &keys), Some(vec![]));
        let Err(ApiError::App(AppError::Validation(errors))) = f.finish() else { panic!("expected 422") };
        let found: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.message.as_str())).collect();
        assert_eq!(
            found,
            [
                ("off", "is required"),
                ("when", "must be an RFC 3339 time"),
                ("nested.city", "must be a string, number, boolean or list of strings"),
                ("nested.hasPhone", "must be a list of strings"),
                ("nested.scoreMin", "must not be null (leave it out)"),
                ("nested.status", "must not be an empty list"),
                ("nested.stauts", "is not a lead filter"),
            ]
        );
    }

    #[test]
    fn null_means_absent() {
        let body = json!({"city": null, "score": 2_147_483_648_i64});
        let map = body.as_object().unwrap();
        let mut f = Fields::new(map);
        assert_eq!(f.opt_string("city"), None);
        assert_eq!(f.opt_i32("score"), None, "out of i32 range is an error, not a wrap");
        assert!(f.finish().is_err());
    }
}
