//! The terms of use (`/cgu`): the operator's text (`Cgu::text`, read from
//! `[lifecycle] cgu_file`, else the French default of `cgu.txt`) with its
//! version, rendered from a small subset of Markdown (`#`/`##` headings,
//! paragraphs), escaped: the text is the operator's, never markup.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, html};

use super::layout::{self, Section};
use crate::Web;

/// The default terms, in French, for an operator that has written none.
pub const DEFAULT_TEXT: &str = include_str!("cgu.txt");

pub fn router() -> Router<Arc<Web>> {
    Router::new().route("/cgu", get(page))
}

/// The text, as headings (a line starting with `#`) and paragraphs (the
/// lines between).
fn rendered(text: &str) -> Markup {
    let mut blocks: Vec<(bool, String)> = Vec::new();
    for line in text.lines().map(str::trim) {
        match line.trim_start_matches('#') {
            _ if line.is_empty() => blocks.push((false, String::new())),
            title if title.len() < line.len() => blocks.push((true, title.trim().to_string())),
            _ => match blocks.last_mut() {
                Some((false, paragraph)) => {
                    if !paragraph.is_empty() {
                        paragraph.push(' ');
                    }
                    paragraph.push_str(line);
                }
                _ => blocks.push((false, line.to_string())),
            },
        }
    }
    html! {
        @for (heading, text) in blocks.iter().filter(|(_, t)| !t.is_empty()) {
            @if *heading { h2 { (text) } } @else { p { (text) } }
        }
    }
}

async fn page(State(web): State<Arc<Web>>) -> Response {
    let main = html! {
        p class="version" { "Version " (web.cgu.version) }
        (rendered(&web.cgu.text))
    };
    layout::page(&web, "Conditions générales d'utilisation", None, Section::Mailboxes, main).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_and_paragraphs_are_rendered_escaped() {
        let html = rendered("# Titre\n\n## 1. Objet\nLigne <b>un</b>\ndeux\n\n\nTrois").into_string();
        assert_eq!(html, "<h2>Titre</h2><h2>1. Objet</h2><p>Ligne &lt;b&gt;un&lt;/b&gt; deux</p><p>Trois</p>");
        assert!(rendered(DEFAULT_TEXT).into_string().contains("<h2>4. Données de santé et confidentialité</h2>"));
    }
}
