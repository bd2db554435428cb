//! A file's text with its line table, line-ending convention and byte-order mark.
//!
//! Everything obs-init writes into an existing file goes through here, so that the
//! conventions the file already follows (CRLF, BOM, missing final newline) survive.

/// A UTF-8 text split into lines, with the BOM taken off (and remembered).
#[derive(Debug, Clone)]
pub struct Text {
    body: String,
    bom: bool,
    /// Byte offset where each line starts; a trailing empty line after a final newline is not
    /// counted as a line.
    starts: Vec<usize>,
}

const BOM: char = '\u{feff}';

impl Text {
    pub fn new(content: &str) -> Text {
        let (bom, body) = match content.strip_prefix(BOM) {
            Some(rest) => (true, rest.to_string()),
            None => (false, content.to_string()),
        };
        let mut starts = vec![0];
        starts.extend(
            body.match_indices('\n')
                .map(|(i, _)| i + 1)
                .filter(|&i| i < body.len()),
        );
        Text { body, bom, starts }
    }

    /// The text without its BOM.
    pub fn as_str(&self) -> &str {
        &self.body
    }

    /// The file's bytes as they should be written: `body` with the original BOM, if any.
    pub fn with_bom(&self, body: &str) -> String {
        if self.bom {
            format!("{BOM}{body}")
        } else {
            body.to_string()
        }
    }

    pub fn line_count(&self) -> usize {
        self.starts.len()
    }

    /// The line ending new lines should use: CRLF when most of the file's line breaks are.
    pub fn eol(&self) -> &'static str {
        let lf = self.body.matches('\n').count();
        let crlf = self.body.matches("\r\n").count();
        if crlf * 2 > lf { "\r\n" } else { "\n" }
    }

    /// Line `line` without its terminator.
    pub fn line(&self, line: usize) -> &str {
        let start = self.starts[line];
        let end = self.line_content_end(line);
        &self.body[start..end]
    }

    /// Byte offset of the end of line `line`'s content (before `\r\n` or `\n`).
    pub fn line_content_end(&self, line: usize) -> usize {
        let next = self.after_line(line);
        let s = &self.body[self.starts[line]..next];
        let s = s.strip_suffix('\n').unwrap_or(s);
        let s = s.strip_suffix('\r').unwrap_or(s);
        self.starts[line] + s.len()
    }

    /// Byte offset just past line `line`'s terminator (or the end of the text).
    pub fn after_line(&self, line: usize) -> usize {
        self.starts
            .get(line + 1)
            .copied()
            .unwrap_or(self.body.len())
    }

    /// Whether line `line` ends with a line break.
    pub fn has_terminator(&self, line: usize) -> bool {
        self.body[..self.after_line(line)].ends_with('\n')
    }

    pub fn line_start(&self, line: usize) -> usize {
        self.starts[line]
    }

    /// The 0-based line holding byte `byte`.
    pub fn line_of(&self, byte: usize) -> usize {
        match self.starts.binary_search(&byte) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        }
    }

    /// Byte offset of column `col` (in characters) of line `line`; both 0-based. Positions past
    /// the end of the text clamp to its end.
    pub fn byte_at(&self, line: usize, col: usize) -> usize {
        let Some(&start) = self.starts.get(line) else {
            return self.body.len();
        };
        let rest = &self.body[start..];
        rest.char_indices()
            .nth(col)
            .map_or(self.body.len(), |(i, _)| start + i)
    }

    /// The leading spaces of line `line`.
    pub fn indent(&self, line: usize) -> usize {
        let l = self.line(line);
        l.len() - l.trim_start_matches(' ').len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_files_get_crlf_line_endings() {
        assert_eq!(Text::new("a: 1\r\nb: 2\r\n").eol(), "\r\n");
        assert_eq!(Text::new("a: 1\nb: 2\n").eol(), "\n");
    }

    #[test]
    fn bom_is_removed_and_restored() {
        let t = Text::new("\u{feff}a: 1\n");
        assert_eq!(t.as_str(), "a: 1\n");
        assert_eq!(t.with_bom("a: 2\n"), "\u{feff}a: 2\n");
    }

    #[test]
    fn last_line_without_newline_has_no_terminator() {
        let t = Text::new("a: 1\nb: 2");
        assert_eq!(t.line_count(), 2);
        assert!(t.has_terminator(0));
        assert!(!t.has_terminator(1));
        assert_eq!(t.line(1), "b: 2");
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let t = Text::new("é: x\n");
        assert_eq!(t.byte_at(0, 3), 4);
    }
}
