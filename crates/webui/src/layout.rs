//! The page frame every UI shares: head (embedded CSS and script), the
//! navigation bar with the product name and a badge (the cluster name on
//! the Mesos master), the main area and the footer; and the friendly error
//! page. A request carrying [`FRAGMENT_HEADER`] (sent by the script when
//! it navigates or refreshes in place) gets only the main area.

use crate::Html;
use askama::Template;

/// The request header that asks for the main area only.
pub const FRAGMENT_HEADER: &str = "x-ui-fragment";

/// A UI's navigation: its name, home link, sections and asset prefix.
#[derive(Debug, Clone)]
pub struct Nav {
    /// Shown at the left of the bar ("Mesos", "Marathon", "Chronos").
    pub product: &'static str,
    pub home: &'static str,
    /// `(label, href)` of each section.
    pub items: &'static [(&'static str, &'static str)],
    /// Where [`crate::assets`] are served, without the trailing `/`.
    pub assets: &'static str,
    /// Shown in the footer (e.g. the version).
    pub footer: String,
    /// Where the old single-page UI's `#/<route>` links now live: a page
    /// opened with such a hash is sent to `<prefix>/<route>` by the script
    /// (bookmarks of the AngularJS UIs keep working).
    pub hash_routes: Option<&'static str>,
}

/// One page.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    pub nav: &'a Nav,
    pub title: String,
    /// The label of the section this page belongs to.
    pub active: Option<&'static str>,
    pub badge: Option<String>,
    pub body: Html,
    /// A URL answering [`crate::live::ChangeFeed::body`]: the script polls
    /// it and refreshes the main area in place when the generation moves.
    pub live: Option<String>,
}

#[derive(Template)]
#[template(path = "layout.html")]
struct LayoutTemplate<'a> {
    page: &'a Page<'a>,
    version: &'static str,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate<'a> {
    heading: &'a str,
    message: &'a str,
    home: &'a str,
}

impl Page<'_> {
    /// The whole document, or only the main area when `fragment`.
    pub fn render(&self, fragment: bool) -> String {
        if fragment {
            return self.body.as_str().to_string();
        }
        LayoutTemplate {
            page: self,
            version: env!("CARGO_PKG_VERSION"),
        }
        .render()
        .unwrap_or_else(|e| format!("template error: {}", crate::escape(&e.to_string())))
    }

    fn is_active(&self, label: &str) -> bool {
        self.active == Some(label)
    }
}

/// The friendly error page's main area ("Not found" and what was not).
pub fn error_body(heading: &str, message: &str, home: &str) -> Html {
    Html::trusted(
        ErrorTemplate {
            heading,
            message,
            home,
        }
        .render()
        .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nav() -> Nav {
        Nav {
            product: "Mesos",
            home: "/",
            items: &[("Agents", "/ui/agents"), ("Roles", "/ui/roles")],
            assets: "/ui/assets",
            footer: "v1".into(),
            hash_routes: Some("/ui"),
        }
    }

    #[test]
    fn page_has_nav_assets_and_escaped_values() {
        let nav = nav();
        let page = Page {
            nav: &nav,
            title: "<Agents>".into(),
            active: Some("Agents"),
            badge: Some("<b>prod</b>".into()),
            body: Html::text("<script>x</script>"),
            live: Some("/ui/events".into()),
        };
        let html = page.render(false);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("/ui/assets/ui.css"));
        assert!(html.contains("/ui/assets/ui.js"));
        // An empty icon: browsers do not ask the server for /favicon.ico.
        assert!(html.contains("<link rel=\"icon\" href=\"data:,\">"));
        assert!(html.contains("&#60;Agents&#62;"));
        assert!(html.contains("&#60;b&#62;prod&#60;/b&#62;"));
        assert!(html.contains("&#60;script&#62;x&#60;/script&#62;"));
        assert!(!html.contains("<script>x"));
        assert!(html.contains("data-live=\"/ui/events\""));
        assert!(html.contains("data-hash-routes=\"/ui\""));
        assert!(html.contains("aria-current=\"page\" href=\"/ui/agents\""));
        assert!(!html.contains("aria-current=\"page\" href=\"/ui/roles\""));
        assert_eq!(page.render(true), "&#60;script&#62;x&#60;/script&#62;");
    }

    #[test]
    fn error_body_escapes_the_message() {
        let b = error_body("Not found", "No agent '<x>'", "/");
        assert!(b.as_str().contains("No agent &#39;&#60;x&#62;&#39;"));
        assert!(b.as_str().contains("href=\"/\""));
    }
}
