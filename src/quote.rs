//! Text from outside (a request name, a server's error message, a rule a script wrote, a branch
//! name) quoted in Markdown so that it stays text: no link, image, mention, HTML or table cell
//! break can come out of it. The log's counterpart is `gha::neutralise`.
//!
//! GitHub finds `@mentions` and `#references` in the rendered text, after Markdown's own escapes
//! are gone, and skips code: so the safe quote is a code span, whose content Markdown reads as
//! nothing but characters.

use crate::gha::escape_controls;

/// `text` as one code span, safe in a sentence and in a table cell. The fence is one backtick
/// longer than the longest run of backticks inside (CommonMark §6.1), padded with a space where
/// the text starts or ends with a backtick or a space. It stays on one line, as a table row must
/// and as a span must (a line of its own could start a heading or a block that ends the span):
/// a line break is shown as `\n` (and `\r`), as other control characters are; `|` is escaped,
/// which GFM's table reads before the span (outside a table the span shows its backslash).
pub fn code(text: &str) -> String {
    let flat = escape_controls(&text.replace("\r\n", "\n").replace('\n', "\\n"));
    if flat.is_empty() {
        return "` `".to_string();
    }
    let flat = flat.replace('|', "\\|");
    let longest_run = flat
        .split(|c| c != '`')
        .map(str::len)
        .max()
        .unwrap_or_default();
    let fence = "`".repeat(longest_run + 1);
    let pad = if flat.starts_with(['`', ' ']) || flat.ends_with(['`', ' ']) {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{flat}{pad}{fence}")
}

/// `text` as prose: every ASCII punctuation character that can start Markdown's or GFM's markup
/// (emphasis, links and images, HTML, entities such as `&#64;`, headings, tables) is escaped with
/// a backslash, `@` gets a zero-width space after it so that no mention is found, line breaks
/// become spaces and other control characters are shown escaped.
pub fn prose(text: &str) -> String {
    let flat = escape_controls(&text.replace(['\r', '\n'], " "));
    let mut out = String::with_capacity(flat.len() + 8);
    for c in flat.chars() {
        match c {
            '@' => out.push_str("@\u{200B}"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '!' | '#' | '|' | '~' | '&' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What GitHub's Markdown makes of `markdown` inside a table cell, as HTML.
    fn rendered_cell(markdown: &str) -> String {
        let table = format!("| a |\n| --- |\n| {markdown} |\n");
        let mut html = String::new();
        pulldown_cmark::html::push_html(
            &mut html,
            pulldown_cmark::Parser::new_ext(&table, pulldown_cmark::Options::ENABLE_TABLES),
        );
        html
    }

    const HOSTILE: [&str; 8] = [
        "@org/team please look",
        "![x](https://evil.example/pixel.png)",
        "[click](javascript:alert(1))",
        "<img src=x onerror=alert(1)>",
        "a | b | c",
        "`` ` ``` `",
        "line\r\nbreak\rlone",
        "<https://evil.example>",
    ];

    #[test]
    fn a_code_span_holds_any_text_as_text() {
        for text in HOSTILE {
            let html = rendered_cell(&code(text));
            assert!(html.contains("<td><code>"), "{text:?}: {html}");
            let inside = html
                .split("<td><code>")
                .nth(1)
                .and_then(|rest| rest.split("</code></td>").next())
                .unwrap_or_default();
            assert!(
                !inside.contains('<') || inside.contains("&lt;"),
                "{text:?}: {html}"
            );
            assert!(
                !html.contains("<img") && !html.contains("<a "),
                "{text:?}: {html}"
            );
            assert_eq!(html.matches("<td>").count(), 1, "{text:?}: {html}");
        }
        assert_eq!(code("GET /a"), "`GET /a`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`a"), "`` `a ``");
        assert_eq!(code(""), "` `");
    }

    #[test]
    fn prose_holds_any_text_as_text() {
        for text in HOSTILE {
            let html = rendered_cell(&prose(text));
            assert!(
                !html.contains("<img") && !html.contains("<a ") && !html.contains("<code"),
                "{text:?}: {html}"
            );
            assert_eq!(html.matches("<td>").count(), 1, "{text:?}: {html}");
        }
        assert!(!prose("ping @org/team").contains("@o"));
        assert_eq!(prose("exited with 137"), "exited with 137");
    }
}
