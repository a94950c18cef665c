//! A read-only view of one map node of the neutral tree, naming fields by their path for
//! errors: a value where an object belongs (or the reverse), or a value given twice, is
//! MALFORMED; a missing required value is recorded as a VALIDATION problem.

use super::tree::{Malformed, Node};
use crate::domain::validation::FieldError;

/// A read-only view of one map node, naming fields by their path for errors.
pub struct Fields<'a> {
    node: &'a Node,
    prefix: String,
}

impl<'a> Fields<'a> {
    /// Views `node`; errors name fields as `prefix` + field name.
    pub fn new(node: &'a Node, prefix: &str) -> Self {
        Self {
            node,
            prefix: prefix.to_owned(),
        }
    }

    /// The full path of a field, for errors.
    pub fn path(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }

    fn single(&self, name: &str) -> Result<Option<&'a Node>, Malformed> {
        let mut found = self.node.children(name);
        let first = found.next();
        if found.next().is_some() {
            return Err(Malformed(format!(
                "{} appears more than once",
                self.path(name)
            )));
        }
        Ok(first)
    }

    /// A scalar field, trimmed; `None` when absent or blank.
    pub fn text(&self, name: &str) -> Result<Option<&'a str>, Malformed> {
        match self.single(name)? {
            None => Ok(None),
            Some(Node::Text(t)) => Ok(Some(t.trim()).filter(|t| !t.is_empty())),
            Some(Node::Map(_)) => Err(Malformed(format!(
                "{} must be a value, not an object",
                self.path(name)
            ))),
        }
    }

    /// A scalar field that must be present; its absence is recorded in `errors`.
    pub fn required_text(
        &self,
        name: &str,
        errors: &mut Vec<FieldError>,
    ) -> Result<Option<&'a str>, Malformed> {
        let value = self.text(name)?;
        if value.is_none() {
            errors.push(FieldError::required(self.path(name)));
        }
        Ok(value)
    }

    /// An object field.
    pub fn map(&self, name: &str) -> Result<Option<&'a Node>, Malformed> {
        match self.single(name)? {
            None => Ok(None),
            Some(n @ Node::Map(_)) => Ok(Some(n)),
            Some(Node::Text(t)) if t.trim().is_empty() => Ok(None),
            Some(Node::Text(_)) => Err(Malformed(format!(
                "{} must be an object, not a value",
                self.path(name)
            ))),
        }
    }
}
