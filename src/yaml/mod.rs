//! The YAML engine: a file's text, the tree parsed from it with every node's position, what
//! the tree means, new YAML rendered to fit the file's layout, edits as pure insertions, and
//! the check that the edited text means exactly the original plus the intended changes.
//! Compose files and dagster.yaml are edited through it alike.

pub mod doc;
pub mod emit;
pub mod model;
pub mod splice;
pub mod text;
pub mod verify;

/// The text and the tree of `content`.
pub fn parse(content: &str) -> Result<(text::Text, doc::Document), doc::ParseError> {
    let text = text::Text::new(content);
    let doc = doc::Document::parse(&text)?;
    Ok((text, doc))
}

/// [`parse`], with the parser's errors as the refusals every file obs-init edits reports
/// (with line, column and help).
pub fn parse_file(content: &str) -> Result<(text::Text, doc::Document), crate::error::Refusal> {
    parse(content).map_err(|e| crate::error::Refusal::from_parse(e, content))
}
