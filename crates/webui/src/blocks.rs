//! The building blocks of a page's main area besides tables: a heading
//! with breadcrumbs, a panel of labelled values, a row of counters, a
//! small fixed grid of numbers (e.g. resources by kind), and the two-column
//! layout (summary at the side, tables in the middle).

use crate::Html;
use askama::Template;

#[derive(Template)]
#[template(path = "heading.html")]
struct HeadingTemplate<'a> {
    title: &'a str,
    crumbs: &'a [(&'a str, Option<String>)],
}

/// `<h1>` with breadcrumbs: `(label, link)` from the top down.
pub fn heading(title: &str, crumbs: &[(&str, Option<String>)]) -> Html {
    render(HeadingTemplate { title, crumbs })
}

#[derive(Template)]
#[template(path = "panel.html")]
struct PanelTemplate<'a> {
    title: &'a str,
    rows: &'a [(&'a str, Html)],
}

/// A titled panel of `label: value` lines.
pub fn panel(title: &str, rows: &[(&str, Html)]) -> Html {
    render(PanelTemplate { title, rows })
}

#[derive(Template)]
#[template(path = "counts.html")]
struct CountsTemplate<'a> {
    title: &'a str,
    items: &'a [(&'a str, String)],
}

/// A titled row of counters (`value` over `label`).
pub fn counts(title: &str, items: &[(&str, String)]) -> Html {
    render(CountsTemplate { title, items })
}

#[derive(Template)]
#[template(path = "matrix.html")]
struct MatrixTemplate<'a> {
    title: &'a str,
    columns: &'a [&'a str],
    rows: &'a [(&'a str, Vec<String>)],
}

/// A small titled grid: a header row and labelled rows of values.
pub fn matrix(title: &str, columns: &[&str], rows: &[(&str, Vec<String>)]) -> Html {
    render(MatrixTemplate {
        title,
        columns,
        rows,
    })
}

/// The two-column layout: `side` (panels) and `main` (tables).
pub fn grid(side: &Html, main: &Html) -> Html {
    Html::trusted(format!(
        "<div class=\"ui-grid\"><aside class=\"ui-side\">{side}</aside><div class=\"ui-stack\">{main}</div></div>"
    ))
}

/// Joins blocks in order.
pub fn join(parts: impl IntoIterator<Item = Html>) -> Html {
    let mut out = Html::default();
    for p in parts {
        out.push(&p);
    }
    out
}

fn render(t: impl Template) -> Html {
    Html::trusted(
        t.render()
            .unwrap_or_else(|e| crate::escape(&format!("template error: {e}"))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_escape_what_they_are_given() {
        let h = heading(
            "<t>",
            &[("Agents", Some("/ui/agents".into())), ("<a>", None)],
        );
        assert!(h.as_str().contains("&#60;t&#62;"));
        assert!(h.as_str().contains("<a href=\"/ui/agents\">Agents</a>"));
        let p = panel(
            "P",
            &[("<k>", Html::text("<v>")), ("link", Html::link("/x", "y"))],
        );
        assert!(
            p.as_str()
                .contains("<dt>&#60;k&#62;</dt><dd>&#60;v&#62;</dd>")
        );
        assert!(p.as_str().contains("<a href=\"/x\">y</a>"));
        let c = counts("Tasks", &[("Running", "3".into())]);
        assert!(c.as_str().contains("<b>3</b>"));
        let m = matrix("R", &["", "CPUs"], &[("Total", vec!["<4>".into()])]);
        assert!(m.as_str().contains("&#60;4&#62;"));
    }
}
