//! Typed request bodies that cannot drift from the document: `Json<T>` reads a JSON body, checks
//! it against `T`'s own OpenAPI schema (the one `/api/v1/openapi.json` publishes), reporting every
//! bad field at once (422), and only then deserializes it into `T`.
//!
//! The check speaks the contract's words (`is required`, `must be a string`, `must be one of …`)
//! and names nested fields as the client wrote them (`filter.status`, `ids[3]`). It never trims
//! or rewrites a value: normalisation is the domain's job.

use crate::body::read_json_object;
use crate::openapi::body_schema;
use crate::problem::ApiError;
use actix_web::{FromRequest, HttpRequest, dev::Payload};
use leadzone_app::AppError;
use leadzone_domain::FieldError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use std::any::TypeId;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, RwLock};
use utoipa::openapi::path::ParameterIn;
use utoipa::{IntoParams, ToSchema};

/// A JSON body of type `T`, checked against `T`'s published schema.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + ToSchema + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body_was_empty = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() == "0")
            || (req.headers().get(actix_web::http::header::CONTENT_LENGTH).is_none()
                && req.headers().get(actix_web::http::header::TRANSFER_ENCODING).is_none());
        let read = read_json_object(req, payload);
        Box::pin(async move {
            let map = read.await?;
            // The document marks every typed body required. An empty one reads as `{}` when the
            // type has required fields (they are named); otherwise it is refused here.
            let names_required =
                compiled::<T>().schema.get("required").and_then(Value::as_array).is_some_and(|r| !r.is_empty());
            if map.is_empty() && body_was_empty && !names_required {
                return Err(AppError::field("body", "is required").into());
            }
            parse::<T>(Value::Object(map)).map(Json)
        })
    }
}

/// Checks `value` against `T`'s schema, then deserializes it.
///
/// # Errors
/// 422 with one entry per bad field.
pub fn parse<T: DeserializeOwned + ToSchema + 'static>(value: Value) -> Result<T, ApiError> {
    let compiled = compiled::<T>();
    let mut errors = Vec::new();
    Checker { components: &compiled.components }.check(&compiled.schema, &value, "", &mut errors);
    // In the order the body type declares its fields (the contract's), not the body's key order.
    errors.sort_by_key(|e| {
        let top = e.field.split(['.', '[']).next().unwrap_or_default();
        compiled.order.iter().position(|f| f == top).unwrap_or(usize::MAX)
    });
    if !errors.is_empty() {
        return Err(AppError::Validation(errors).into());
    }
    serde_json::from_value(value).map_err(|e| {
        AppError::Validation(vec![FieldError::new("body", format!("does not match the schema: {e}"))]).into()
    })
}

/// A body type's schema and the components it references, as JSON, made once per type.
struct Compiled {
    schema: Value,
    /// The top-level properties in declaration order.
    order: Vec<String>,
    components: HashMap<String, Value>,
}

/// What `build` makes for the type `T`, made once per type and kept (schemas are fixed at compile
/// time; turning them into JSON on every request would cost each request for nothing).
fn per_type<T: 'static, V: Send + Sync + 'static>(build: impl FnOnce() -> V) -> Arc<V> {
    type Cache = RwLock<HashMap<(TypeId, TypeId), Arc<dyn std::any::Any + Send + Sync>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (TypeId::of::<T>(), TypeId::of::<V>());
    if let Some(v) = cache.read().ok().and_then(|m| m.get(&key).cloned()).and_then(|v| v.downcast::<V>().ok()) {
        return v;
    }
    let v = Arc::new(build());
    if let Ok(mut m) = cache.write() {
        m.insert(key, v.clone());
    }
    v
}

fn compiled<T: ToSchema + 'static>() -> Arc<Compiled> {
    per_type::<T, Compiled>(|| {
        let (schema, components) = body_schema::<T>();
        let order = match &schema {
            utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::Object(o)) => {
                o.properties.keys().cloned().collect()
            }
            _ => Vec::new(),
        };
        Compiled {
            order,
            schema: serde_json::to_value(&schema).unwrap_or(Value::Null),
            components: components
                .into_iter()
                .map(|(name, s)| (name, serde_json::to_value(&s).unwrap_or(Value::Null)))
                .collect(),
        }
    })
}

/// One documented query parameter, as the check reads it.
struct QueryParam {
    name: String,
    required: bool,
    schema: Value,
}

fn query_params<T: IntoParams + 'static>() -> Arc<Vec<QueryParam>> {
    per_type::<T, Vec<QueryParam>>(|| {
        T::into_params(|| Some(ParameterIn::Query))
            .into_iter()
            .map(|p| QueryParam {
                required: matches!(p.required, utoipa::openapi::Required::True),
                schema: p.schema.as_ref().and_then(|s| serde_json::to_value(s).ok()).unwrap_or(Value::Null),
                name: p.name,
            })
            .collect()
    })
}

/// The document's component schemas as JSON (query parameters refer to them).
fn document_components() -> &'static HashMap<String, Value> {
    static COMPONENTS: OnceLock<HashMap<String, Value>> = OnceLock::new();
    COMPONENTS.get_or_init(|| {
        crate::openapi::document()
            .components
            .as_ref()
            .map(|c| {
                c.schemas.iter().map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or(Value::Null))).collect()
            })
            .unwrap_or_default()
    })
}

struct Checker<'a> {
    components: &'a HashMap<String, Value>,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

fn field_name(path: &str) -> String {
    if path.is_empty() { "body".to_owned() } else { path.to_owned() }
}

impl Checker<'_> {
    fn resolve<'s>(&'s self, schema: &'s Value) -> &'s Value {
        let mut s = schema;
        for _ in 0..16 {
            match s.get("$ref").and_then(Value::as_str) {
                Some(r) => match r.strip_prefix("#/components/schemas/").and_then(|n| self.components.get(n)) {
                    Some(next) => s = next,
                    None => return &Value::Null,
                },
                None => return s,
            }
        }
        s
    }

    /// Whether `value` satisfies `schema`, without recording anything.
    fn accepts(&self, schema: &Value, value: &Value) -> bool {
        let mut scratch = Vec::new();
        self.check(schema, value, "", &mut scratch);
        scratch.is_empty()
    }

    fn check(&self, schema: &Value, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
        let schema = self.resolve(schema);
        let Some(obj) = schema.as_object() else { return };
        if let Some(Value::Array(all)) = obj.get("allOf") {
            for s in all {
                self.check(s, value, path, errors);
            }
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(Value::Array(branches)) = obj.get(key) {
                if branches.iter().any(|b| self.accepts(b, value)) {
                    continue;
                }
                // Report against the first branch that is not `null`, which is what the client
                // most likely meant.
                let type_fits =
                    |b: &&Value| schema_types(self.resolve(b)).iter().any(|t| *t != "null" && type_matches(t, value));
                let not_null = |b: &&Value| self.resolve(b).get("type") != Some(&Value::from("null"));
                let main = branches.iter().find(type_fits).or_else(|| branches.iter().find(not_null));
                match main {
                    Some(b) => self.check(b, value, path, errors),
                    None => errors.push(FieldError::new(field_name(path), "must be null")),
                }
                return;
            }
        }
        if let Some(types) = obj.get("type") {
            let allowed: Vec<&str> = match types {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            if !allowed.is_empty() && !allowed.iter().any(|t| type_matches(t, value)) {
                let main = allowed.iter().find(|t| **t != "null").copied().unwrap_or("null");
                let message = if value.is_null() { "is required".to_owned() } else { type_message(main, obj) };
                errors.push(FieldError::new(field_name(path), message));
                return;
            }
        }
        if value.is_null() {
            return;
        }
        if let Some(Value::Array(values)) = obj.get("enum")
            && !values.contains(value)
        {
            let names: Vec<String> =
                values.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).collect();
            errors.push(FieldError::new(field_name(path), format!("must be one of {}", names.join(", "))));
            return;
        }
        match value {
            Value::String(s) => self.check_string(obj, s, path, errors),
            Value::Number(n) => check_number(obj, n, path, errors),
            Value::Array(items) => self.check_array(obj, items, path, errors),
            Value::Object(map) => self.check_object(obj, map, path, errors),
            _ => {}
        }
    }

    fn check_string(&self, obj: &Map<String, Value>, s: &str, path: &str, errors: &mut Vec<FieldError>) {
        let len = s.trim().chars().count();
        if let Some(max) = obj.get("maxLength").and_then(Value::as_u64)
            && len as u64 > max
        {
            errors.push(FieldError::new(field_name(path), format!("must be at most {max} characters")));
            return;
        }
        if let Some(min) = obj.get("minLength").and_then(Value::as_u64)
            && (len as u64) < min
        {
            let message =
                if min == 1 { "must not be empty".to_owned() } else { format!("must be at least {min} characters") };
            errors.push(FieldError::new(field_name(path), message));
            return;
        }
        if let Some(pattern) = obj.get("pattern").and_then(Value::as_str)
            && !pattern_matches(pattern, s)
        {
            let message = match pattern.strip_prefix("^(").and_then(|p| p.strip_suffix(")$")) {
                Some(alts) if alts.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '|' | '_' | '-')) => {
                    format!("must be one of {}", alts.replace('|', ", "))
                }
                _ => format!("must match {pattern}"),
            };
            errors.push(FieldError::new(field_name(path), message));
            return;
        }
        let ok = match obj.get("format").and_then(Value::as_str) {
            Some("uuid") => uuid::Uuid::parse_str(s.trim()).is_ok(),
            Some("date-time") => {
                time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339).is_ok()
            }
            _ => true,
        };
        if !ok {
            errors.push(FieldError::new(field_name(path), type_message("string", obj)));
        }
    }

    fn check_array(&self, obj: &Map<String, Value>, items: &[Value], path: &str, errors: &mut Vec<FieldError>) {
        if let Some(max) = obj.get("maxItems").and_then(Value::as_u64)
            && items.len() as u64 > max
        {
            errors.push(FieldError::new(field_name(path), format!("must have at most {max} entries")));
            return;
        }
        if let Some(min) = obj.get("minItems").and_then(Value::as_u64)
            && (items.len() as u64) < min
        {
            let message =
                if min == 1 { "must not be empty".to_owned() } else { format!("must have at least {min} entries") };
            errors.push(FieldError::new(field_name(path), message));
            return;
        }
        if let Some(item_schema) = obj.get("items") {
            for (i, item) in items.iter().enumerate() {
                self.check(item_schema, item, &format!("{}[{i}]", field_name(path)), errors);
            }
        }
    }

    fn check_object(
        &self,
        obj: &Map<String, Value>,
        map: &Map<String, Value>,
        path: &str,
        errors: &mut Vec<FieldError>,
    ) {
        let empty = Map::new();
        let props = obj.get("properties").and_then(Value::as_object).unwrap_or(&empty);
        if let Some(Value::Array(required)) = obj.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if !map.contains_key(name) {
                    errors.push(FieldError::new(join(path, name), "is required"));
                }
            }
        }
        for (key, value) in map {
            match props.get(key) {
                Some(s) => self.check(s, value, &join(path, key), errors),
                None => match obj.get("additionalProperties") {
                    Some(Value::Bool(false)) => errors.push(FieldError::new(join(path, key), "is not a known field")),
                    Some(s @ Value::Object(_)) => self.check(s, value, &join(path, key), errors),
                    _ => {}
                },
            }
        }
    }
}

/// Whether `s` matches the schema's `pattern` (compiled once per pattern). A pattern that does not
/// compile is a bug in this crate's schemas, caught by the document test; it accepts meanwhile.
fn pattern_matches(pattern: &str, s: &str) -> bool {
    static CACHE: OnceLock<RwLock<HashMap<String, Option<regex::Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(re) = cache.read().ok().and_then(|m| m.get(pattern).cloned()) {
        return re.is_none_or(|re| re.is_match(s));
    }
    let re = regex::Regex::new(pattern).ok();
    let ok = re.as_ref().is_none_or(|re| re.is_match(s));
    if let Ok(mut m) = cache.write() {
        m.insert(pattern.to_owned(), re);
    }
    ok
}

fn check_number(obj: &Map<String, Value>, n: &serde_json::Number, path: &str, errors: &mut Vec<FieldError>) {
    let v = n.as_f64().unwrap_or(f64::NAN);
    let min = obj.get("minimum").and_then(Value::as_f64);
    let max = obj.get("maximum").and_then(Value::as_f64);
    let out = min.is_some_and(|m| v < m) || max.is_some_and(|m| v > m);
    if out {
        let message = match (min, max) {
            (Some(a), Some(b)) => format!("must be between {a} and {b}"),
            (Some(a), None) => format!("must be at least {a}"),
            (None, Some(b)) => format!("must be at most {b}"),
            (None, None) => "is out of range".to_owned(),
        };
        errors.push(FieldError::new(field_name(path), message));
        return;
    }
    // An integer that does not fit the documented width would otherwise wrap or fail later.
    let fits = match obj.get("format").and_then(Value::as_str) {
        Some("int32") => n.as_i64().is_some_and(|v| i32::try_from(v).is_ok()),
        Some("int64") => n.as_i64().is_some(),
        _ => true,
    };
    if !fits {
        errors.push(FieldError::new(field_name(path), "must be an integer"));
    }
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "string" => v.is_string(),
        "integer" => v.as_i64().is_some() || v.as_u64().is_some(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        "null" => v.is_null(),
        _ => true,
    }
}

fn type_message(t: &str, obj: &Map<String, Value>) -> String {
    match (t, obj.get("format").and_then(Value::as_str)) {
        ("string", Some("uuid")) => "must be a UUID".to_owned(),
        ("string", Some("date-time")) => "must be an RFC 3339 time".to_owned(),
        ("string", _) => "must be a string".to_owned(),
        ("integer", _) => "must be an integer".to_owned(),
        ("number", _) => "must be a number".to_owned(),
        ("boolean", _) => "must be true or false".to_owned(),
        ("array", _) => "must be a list".to_owned(),
        ("object", _) => "must be an object".to_owned(),
        _ => "has the wrong type".to_owned(),
    }
}

/// Checks the query pairs against the parameters `T` documents: each value, read as the
/// parameter's type (`limit=abc` is not an integer, `allowDuplicate=banana` not a boolean), must
/// fit its schema; a repeatable parameter checks every value. Unknown keys are left alone.
///
/// # Errors
/// 422 with one entry per bad parameter.
pub fn check_query<T: IntoParams + 'static>(pairs: &[(String, String)]) -> Result<(), ApiError> {
    let checker = Checker { components: document_components() };
    let mut errors = Vec::new();
    for p in query_params::<T>().iter() {
        let values: Vec<&str> = pairs.iter().filter(|(k, _)| *k == p.name).map(|(_, v)| v.as_str()).collect();
        if values.is_empty() {
            if p.required {
                errors.push(FieldError::new(p.name.clone(), "is required"));
            }
            continue;
        }
        let value = if schema_types(&p.schema).contains(&"array") {
            let items = p.schema.get("items").unwrap_or(&Value::Null);
            Value::Array(values.iter().map(|v| typed_value(items, v)).collect())
        } else {
            values.last().map_or(Value::Null, |v| typed_value(&p.schema, v))
        };
        checker.check(&p.schema, &value, &p.name, &mut errors);
    }
    if errors.is_empty() { Ok(()) } else { Err(AppError::Validation(errors).into()) }
}

fn schema_types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    }
}

/// A query string value as the JSON value its schema expects, when it reads as one; otherwise the
/// string, which the check then reports.
fn typed_value(schema: &Value, raw: &str) -> Value {
    let types = schema_types(schema);
    if types.contains(&"integer")
        && let Ok(n) = raw.trim().parse::<i64>()
    {
        return Value::from(n);
    }
    if types.contains(&"boolean") {
        match raw {
            "true" => return Value::Bool(true),
            "false" => return Value::Bool(false),
            _ => {}
        }
    }
    Value::String(raw.to_owned())
}

/// A PATCH field: absent (leave as is), `null` (clear) or a value. Declare it with
/// `#[serde(default)]` and `#[schema(value_type = Option<T>)]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<T> Patch<T> {
    /// `None` when absent, `Some(None)` for null, `Some(Some(v))` for a value.
    pub fn into_option(self) -> Option<Option<T>> {
        match self {
            Patch::Absent => None,
            Patch::Null => Some(None),
            Patch::Value(v) => Some(Some(v)),
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Patch<U> {
        match self {
            Patch::Absent => Patch::Absent,
            Patch::Null => Patch::Null,
            Patch::Value(v) => Patch::Value(f(v)),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(d).map(|o| o.map_or(Patch::Null, Patch::Value))
    }
}
