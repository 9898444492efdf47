//! The report as one self-contained HTML page: the Markdown report turned into HTML, with the
//! charts as inline SVG. No script, no stylesheet, font or image is fetched: it opens offline.
//!
//! Text in the report can come from outside (a tester's stop reason, a pull request comment), so
//! any HTML in the Markdown is shown as text; only the charts, put in by slot after the
//! conversion, are markup. A link goes only to `https:` or `http:` (a task's console, its log, the
//! comment that started the run), never `javascript:` or `data:`; an image is shown as its
//! words, so the page fetches nothing.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd, html};

use crate::gha::random_token;

/// Where chart `index` goes in the Markdown: a paragraph no report text can forge.
#[derive(Debug, PartialEq)]
pub struct Slots {
    nonce: String,
}

impl Slots {
    pub fn new() -> Self {
        Slots {
            nonce: random_token(16),
        }
    }

    pub fn slot(&self, index: usize) -> String {
        format!("chart-slot-{}-{index}", self.nonce)
    }
}

const STYLE: &str = "body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1f2328;max-width:1000px;margin:2em auto;padding:0 1em;line-height:1.5}table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #d0d7de;padding:4px 10px}th{background:#f6f8fa}code{background:#f6f8fa;padding:1px 4px;border-radius:4px}figure{margin:1em 0}svg{max-width:100%;height:auto}";

/// The page for `markdown`, whose chart slots are filled with `charts` (SVG elements).
pub fn page(title: &str, markdown: &str, slots: &Slots, charts: &[String]) -> String {
    let parser = Parser::new_ext(markdown, Options::ENABLE_TABLES).filter_map(|event| {
        Some(match event {
            Event::Html(text) | Event::InlineHtml(text) => Event::Text(text),
            Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => return None,
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => Event::Start(Tag::Link {
                link_type,
                dest_url: if web_address(&dest_url) {
                    dest_url
                } else {
                    "#".into()
                },
                title,
                id,
            }),
            other => other,
        })
    });
    let mut body = String::new();
    html::push_html(&mut body, parser);
    for (index, chart) in charts.iter().enumerate() {
        body = body.replace(
            &format!("<p>{}</p>", slots.slot(index)),
            &format!("<figure>{chart}</figure>"),
        );
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        title
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    )
}

/// Whether a link may go to `url`: a web address, whatever its letters' case and leading blanks.
fn web_address(url: &str) -> bool {
    let url = url.trim_start().to_ascii_lowercase();
    url.starts_with("https://") || url.starts_with("http://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_in_the_report_is_text_and_only_slots_become_charts() {
        let slots = Slots::new();
        let markdown = format!(
            "### ✅ Load test passed\n\n| a | b |\n| --- | --- |\n| <script>alert(1)</script> | 2 |\n\n<figure><svg onload=\"x\"></svg></figure>\n\n{}\n\nchart-slot-guess-0\n",
            slots.slot(0)
        );
        let page = page(
            "Load test",
            &markdown,
            &slots,
            &["<svg id=\"chart\"></svg>".into()],
        );
        assert!(page.contains("<h3>✅ Load test passed</h3>"));
        assert!(
            page.contains("<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>"),
            "{page}"
        );
        assert!(!page.contains("<svg onload"));
        assert!(page.contains("<figure><svg id=\"chart\"></svg></figure>"));
        assert!(page.contains("<p>chart-slot-guess-0</p>"));
        assert!(!page.contains("http"), "nothing is fetched: {page}");
    }

    #[test]
    fn no_script_link_and_no_remote_image() {
        let markdown = "[a](javascript:alert(1)) [b](JaVaScRiPt:alert(1)) [c]( data:text/html,x) [d](vbscript:x) [console](https://console.aws.amazon.com/ecs)\n\n![pixel](https://evil.example/p.png) ![local](data:image/png;base64,AAAA)\n";
        let page = page("Load test", markdown, &Slots::new(), &[]);
        for refused in [
            "javascript:",
            "JaVaScRiPt",
            "data:",
            "vbscript:",
            "<img",
            "evil.example",
        ] {
            assert!(!page.contains(refused), "{refused}: {page}");
        }
        assert!(
            page.contains("<a href=\"https://console.aws.amazon.com/ecs\">console</a>"),
            "{page}"
        );
        assert!(
            page.contains("pixel") && page.contains("local"),
            "an image's words stay: {page}"
        );
    }
}
