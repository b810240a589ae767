//! The UIs' stylesheet and script, embedded in the binary with
//! `include_str!` (two small hand-written files need no asset crate).
//! Served under each UI's `Nav::assets` prefix.

/// The stylesheet: one look for every UI, light and dark.
pub const CSS: &str = include_str!("../assets/ui.css");
/// The script: in-place table navigation, live refresh, file tailing and
/// the error log the browser tests read.
pub const JS: &str = include_str!("../assets/ui.js");

/// An embedded asset by file name: its content type and bytes.
pub fn get(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "ui.css" => Some(("text/css; charset=utf-8", CSS)),
        "ui.js" => Some(("text/javascript; charset=utf-8", JS)),
        _ => None,
    }
}

/// `Cache-Control` for assets: URLs carry the version, so a day is safe.
pub const CACHE_CONTROL: &str = "public, max-age=86400";

#[cfg(test)]
mod tests {
    #[test]
    fn assets_are_embedded() {
        assert!(
            super::get("ui.css").is_some_and(|(t, b)| t.starts_with("text/css") && !b.is_empty())
        );
        assert!(super::get("ui.js").is_some());
        assert!(super::get("../Cargo.toml").is_none());
    }
}
