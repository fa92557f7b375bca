//! The domain's one error type. Variants name rule violations, never infrastructure failures.

use std::fmt;

/// One invalid field of an input, with a human-readable (English) message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// One or more fields break a rule; every bad field is listed.
    #[error("validation failed: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Validation(Vec<FieldError>),
    /// A state machine refused a transition.
    #[error("cannot move from {from} to {to}")]
    InvalidStateTransition { from: String, to: String },
    /// A stored value does not parse as the domain type (a corrupted row, never user input).
    #[error("unknown {kind} value {value:?}")]
    UnknownVariant { kind: &'static str, value: String },
}

impl DomainError {
    /// A validation error on a single field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    /// The field errors when this is a validation error, else empty.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Self::Validation(errors) => errors,
            _ => &[],
        }
    }
}

/// Collects field errors while validating several fields, so a client sees all of them at once.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the value when `result` is Ok; records every field error of the Err case.
    pub fn check<T>(&mut self, result: Result<T, DomainError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(DomainError::Validation(mut errs)) => {
                self.errors.append(&mut errs);
                None
            }
            Err(other) => {
                self.errors.push(FieldError::new("", other.to_string()));
                None
            }
        }
    }

    /// Prefixes errors with a field name: a value object does not know which field it fills.
    pub fn check_field<T>(&mut self, field: &str, result: Result<T, DomainError>) -> Option<T> {
        self.check(result.map_err(|e| rename_field(e, field)))
    }

    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    pub fn finish(self) -> Result<(), DomainError> {
        if self.errors.is_empty() { Ok(()) } else { Err(DomainError::Validation(self.errors)) }
    }
}

fn rename_field(err: DomainError, field: &str) -> DomainError {
    match err {
        DomainError::Validation(errs) => DomainError::Validation(
            errs.into_iter()
                .map(|e| FieldError::new(if e.field.is_empty() { field.to_owned() } else { e.field }, e.message))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validator_collects_every_field_error() {
        let mut v = Validator::new();
        let a: Option<u8> = v.check_field("email", Err(DomainError::field("", "bad email")));
        let b = v.check_field("phone", Ok::<_, DomainError>(3));
        v.push("name", "required");
        assert_eq!(a, None);
        assert_eq!(b, Some(3));
        let err = v.finish().unwrap_err();
        assert_eq!(err.field_errors(), &[FieldError::new("email", "bad email"), FieldError::new("name", "required")]);
    }

    #[test]
    fn empty_validator_is_ok() {
        assert!(Validator::new().finish().is_ok());
    }
}
