//! Input validation that collects every violation of a request before failing once.

use super::error::{Error, FieldViolation, Result};

/// Collects field violations; `finish` fails with all of them at once.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a violation of `field`.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// Records a violation when `ok` is false.
    pub fn check(&mut self, ok: bool, field: &str, description: &str) {
        if !ok {
            self.add(field, description);
        }
    }

    /// Checks that a time range (UNIX ms, either end open) starts before it ends.
    pub fn range(&mut self, start: Option<i64>, end: Option<i64>) {
        if let (Some(start), Some(end)) = (start, end) {
            self.check(
                start < end,
                "time_range",
                "start_time must be before end_time",
            );
        }
    }

    /// Checks that a string has at most `max` characters and, when `required`, is not blank.
    pub fn text(&mut self, value: &str, field: &str, required: bool, max: usize) {
        if required && value.trim().is_empty() {
            self.add(field, "must not be empty");
        } else if value.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
        } else if value.chars().any(char::is_control) {
            self.add(field, "must not contain control characters");
        }
    }

    /// Checks an email address loosely (one `@`, something on each side, no spaces).
    pub fn email(&mut self, value: &str, field: &str, required: bool) {
        if value.is_empty() {
            if required {
                self.add(field, "must not be empty");
            }
            return;
        }
        let valid = value.len() <= 320
            && !value.chars().any(|c| c.is_whitespace() || c.is_control())
            && matches!(value.split_once('@'), Some((local, domain))
                if !local.is_empty() && domain.contains('.') && !domain.contains('@')
                    && !domain.starts_with('.') && !domain.ends_with('.'));
        self.check(valid, field, "must be an email address");
    }

    /// Checks a new password: 12 to 128 characters.
    pub fn password(&mut self, value: &str, field: &str) {
        let length = value.chars().count();
        self.check(
            (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&length),
            field,
            "must be 12 to 128 characters",
        );
    }

    /// Number of violations recorded.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Fails with every recorded violation, or succeeds when there is none.
    pub fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidArgument(self.0))
        }
    }
}

/// Shortest accepted password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest accepted password, in characters (argon2 input stays bounded).
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Normalises an email address for storage and lookup.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_violation_is_reported_at_once() {
        let mut v = Violations::new();
        v.email("not-an-email", "email", true);
        v.password("short", "password");
        v.text("", "display_name", true, 100);
        let Err(Error::InvalidArgument(violations)) = v.finish() else {
            panic!("expected violations")
        };
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["email", "password", "display_name"]);
    }

    #[test]
    fn plausible_emails_pass_and_odd_ones_fail() {
        for ok in ["a@b.co", "first.last+tag@example.org"] {
            let mut v = Violations::new();
            v.email(ok, "email", true);
            assert!(v.is_empty(), "{ok}");
        }
        for bad in ["@b.co", "a@b", "a b@c.de", "a@@b.de", "a@.de"] {
            let mut v = Violations::new();
            v.email(bad, "email", true);
            assert!(!v.is_empty(), "{bad}");
        }
    }
}
