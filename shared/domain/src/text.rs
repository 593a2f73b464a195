//! Text helpers shared by every place that renders product output.
//!
//! - [`escape_html`]: the one HTML escaper (email bodies, the cost report).

/// `text` safe in HTML element content and in quoted attribute values (single or double): the
/// five characters `&`, `<`, `>`, `"` and `'` become `&amp;`, `&lt;`, `&gt;`, `&quot;` and
/// `&#39;`; everything else is kept as it is.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape_html;

    #[test]
    fn escapes_the_five_html_characters_once() {
        assert_eq!(
            escape_html(r#"<a href="x" title='y'>Tom & Jerry</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;Tom &amp; Jerry&lt;/a&gt;"
        );
        // Already escaped text is escaped again, not left alone: `&` is always `&amp;`.
        assert_eq!(escape_html("&amp;"), "&amp;amp;");
        assert_eq!(escape_html("plain text, é ü 💸"), "plain text, é ü 💸");
        assert_eq!(escape_html(""), "");
    }
}
