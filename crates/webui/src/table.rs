//! Tables sorted, filtered and paginated on the server: every state of a
//! table is a URL (`?<id>.sort=<column>&<id>.order=desc&<id>.q=<text>&<id>.page=<n>`),
//! so tables work without JavaScript, survive a reload and can be
//! bookmarked; the script only fetches the next state in place. Only one
//! page of rows is ever turned into HTML, and ordering picks that page
//! with a partial selection, so a table over 100k tasks costs little more
//! than a pass over them.

use crate::{Html, escape, url_encode};
use askama::Template;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Rows per page.
pub const PER_PAGE: usize = 50;
/// The longest filter text taken from a URL (longer is cut).
const MAX_FILTER_CHARS: usize = 200;

/// A column: its header and whether it can be ordered by.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub label: &'static str,
    pub sortable: bool,
}

impl Column {
    pub const fn sortable(label: &'static str) -> Column {
        Column {
            label,
            sortable: true,
        }
    }

    pub const fn plain(label: &'static str) -> Column {
        Column {
            label,
            sortable: false,
        }
    }
}

/// What the URL asks of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableQuery {
    pub sort: usize,
    pub desc: bool,
    /// Lower-cased filter text ("" = no filter).
    pub filter: String,
    /// 0-based page.
    pub page: usize,
}

impl TableQuery {
    /// Reads table `id`'s keys from the query; anything out of range falls
    /// back to `default` (column, descending).
    pub fn parse(
        id: &str,
        params: &BTreeMap<String, String>,
        columns: &[Column],
        default: (usize, bool),
    ) -> TableQuery {
        let get = |k: &str| params.get(&format!("{id}.{k}"));
        let sort = get("sort")
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|c| columns.get(*c).is_some_and(|c| c.sortable));
        let (sort, desc) = match sort {
            Some(c) => (c, get("order").is_some_and(|o| o == "desc")),
            None => default,
        };
        let filter: String = get("q")
            .map(|q| q.trim().chars().take(MAX_FILTER_CHARS).collect::<String>())
            .unwrap_or_default()
            .to_lowercase();
        let page = get("page")
            .and_then(|p| p.parse::<usize>().ok())
            .map(|p| p.saturating_sub(1))
            .unwrap_or(0);
        TableQuery {
            sort,
            desc,
            filter,
            page,
        }
    }
}

/// One page of rows and how many there were.
#[derive(Debug)]
pub struct Paged<T> {
    pub rows: Vec<T>,
    /// Rows that passed the filter.
    pub matching: usize,
    /// Rows before filtering.
    pub total: usize,
    /// The page shown (0-based; clamped to the last one).
    pub page: usize,
}

/// Filters `rows` with `keep(row, lower-cased filter)`, orders them by
/// `cmp(a, b, column)` (which should break ties, e.g. by id, so pages are
/// stable) and returns the requested page. See [`Pager`].
pub fn page_of<T>(
    rows: impl IntoIterator<Item = T>,
    q: &TableQuery,
    keep: impl Fn(&T, &str) -> bool,
    cmp: impl Fn(&T, &T, usize) -> Ordering,
) -> Paged<T> {
    let mut pager = Pager::new(q, keep, cmp);
    for r in rows {
        pager.push(r);
    }
    pager.finish()
}

/// Picks one page of rows as they are pushed, for a caller that feeds
/// several tables from one pass over its data.
///
/// Rows go through a buffer of at most twice the rows up to the end of
/// the page: whenever it fills, the first ones in order are selected and
/// the rest dropped. A table over 100k rows thus never holds them all,
/// and costs a pass and a few partial selections.
pub struct Pager<'q, T, K, C> {
    q: &'q TableQuery,
    keep: K,
    cmp: C,
    wanted: usize,
    total: usize,
    matching: usize,
    best: Vec<T>,
    /// Whether `best` was cut to its first `wanted` rows at least once.
    selected: bool,
}

impl<'q, T, K, C> Pager<'q, T, K, C>
where
    K: Fn(&T, &str) -> bool,
    C: Fn(&T, &T, usize) -> Ordering,
{
    pub fn new(q: &'q TableQuery, keep: K, cmp: C) -> Self {
        Pager {
            q,
            keep,
            cmp,
            wanted: q.page.saturating_add(1).saturating_mul(PER_PAGE),
            total: 0,
            matching: 0,
            best: Vec::new(),
            selected: false,
        }
    }

    fn order(&self, a: &T, b: &T) -> Ordering {
        let o = (self.cmp)(a, b, self.q.sort);
        if self.q.desc { o.reverse() } else { o }
    }

    /// Offers one row.
    pub fn push(&mut self, row: T) {
        self.total += 1;
        if !self.q.filter.is_empty() && !(self.keep)(&row, &self.q.filter) {
            return;
        }
        self.matching += 1;
        // After a selection, `best[wanted - 1]` is the last row kept: a
        // row ordered after it can never be shown.
        if self.selected && self.order(&row, &self.best[self.wanted - 1]) == Ordering::Greater {
            return;
        }
        if self.best.len() == self.best.capacity()
            && self.best.len() >= self.wanted.saturating_mul(2)
        {
            let mut best = std::mem::take(&mut self.best);
            best.select_nth_unstable_by(self.wanted - 1, |a, b| self.order(a, b));
            best.truncate(self.wanted);
            self.best = best;
            self.selected = true;
        }
        self.best.push(row);
    }

    /// The page asked for (the last one if it asked past the end).
    pub fn finish(self) -> Paged<T> {
        let last_page = self.matching.saturating_sub(1) / PER_PAGE;
        let page = self.q.page.min(last_page);
        let start = page * PER_PAGE;
        let mut best = Vec::new();
        let mut this = self;
        std::mem::swap(&mut best, &mut this.best);
        let end = (start + PER_PAGE).min(best.len());
        if end < best.len() && end > 0 {
            best.select_nth_unstable_by(end - 1, |a, b| this.order(a, b));
            best.truncate(end);
        }
        best.sort_unstable_by(|a, b| this.order(a, b));
        Paged {
            rows: best.into_iter().skip(start).collect(),
            matching: this.matching,
            total: this.total,
            page,
        }
    }
}

/// Case-insensitive "contains" for filters (`needle` already lower-cased).
pub fn contains(haystack: &str, needle: &str) -> bool {
    if haystack.is_ascii() && needle.is_ascii() {
        haystack
            .as_bytes()
            .windows(needle.len().max(1))
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
            || needle.is_empty()
    } else {
        haystack.to_lowercase().contains(needle)
    }
}

/// Compares two floats for ordering (NaN last).
pub fn cmp_f64(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b)
        .unwrap_or_else(|| a.is_nan().cmp(&b.is_nan()))
}

/// What a table is besides its rows.
#[derive(Debug, Clone, Copy)]
pub struct TableSpec<'a> {
    pub id: &'a str,
    pub caption: &'a str,
    pub columns: &'a [Column],
    /// Shown when no row matches.
    pub empty: &'a str,
}

impl<T> Paged<T> {
    /// This page as the table `spec`, each row's cells from `cells`;
    /// links keep `path` and the other keys of `params`.
    pub fn render(
        &self,
        spec: &TableSpec,
        query: &TableQuery,
        path: &str,
        params: &BTreeMap<String, String>,
        cells: impl Fn(&T) -> Vec<Html>,
    ) -> Html {
        Table {
            id: spec.id,
            caption: spec.caption,
            columns: spec.columns,
            rows: self.rows.iter().map(cells).collect(),
            query,
            matching: self.matching,
            total: self.total,
            page: self.page,
            path,
            params,
            empty: spec.empty,
        }
        .render()
    }
}

/// A table ready to render: one page of cells and the state it came from.
pub struct Table<'a> {
    pub id: &'a str,
    pub caption: &'a str,
    pub columns: &'a [Column],
    pub rows: Vec<Vec<Html>>,
    pub query: &'a TableQuery,
    pub matching: usize,
    pub total: usize,
    pub page: usize,
    /// The page's path (links keep it and the other query keys).
    pub path: &'a str,
    pub params: &'a BTreeMap<String, String>,
    /// Shown when no row matches.
    pub empty: &'a str,
}

struct Header {
    label: &'static str,
    href: Option<String>,
    aria_sort: &'static str,
    arrow: &'static str,
}

struct Hidden {
    name: String,
    value: String,
}

#[derive(Template)]
#[template(path = "table.html")]
struct TableTemplate<'a> {
    id: &'a str,
    caption: &'a str,
    filter: &'a str,
    headers: Vec<Header>,
    rows: &'a [Vec<Html>],
    columns: usize,
    empty: &'a str,
    counts: String,
    path: &'a str,
    hidden: Vec<Hidden>,
    first: Option<String>,
    prev: Option<String>,
    next: Option<String>,
    last: Option<String>,
    range: String,
}

impl Table<'_> {
    /// A link to this page with table keys changed (`None` removes a key).
    fn href(&self, changes: &[(&str, Option<String>)]) -> String {
        let mut params = self.params.clone();
        for (k, v) in changes {
            let key = format!("{}.{k}", self.id);
            match v {
                Some(v) => params.insert(key, v.clone()),
                None => params.remove(&key),
            };
        }
        let query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v)))
            .collect();
        if query.is_empty() {
            self.path.to_string()
        } else {
            format!("{}?{}", self.path, query.join("&"))
        }
    }

    pub fn render(&self) -> Html {
        let q = self.query;
        let headers = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let current = i == q.sort;
                Header {
                    label: c.label,
                    href: c.sortable.then(|| {
                        let desc = current && !q.desc;
                        self.href(&[
                            ("sort", Some(i.to_string())),
                            ("order", Some(if desc { "desc" } else { "asc" }.into())),
                            ("page", None),
                        ])
                    }),
                    aria_sort: match (current, q.desc) {
                        (false, _) => "none",
                        (true, false) => "ascending",
                        (true, true) => "descending",
                    },
                    arrow: match (current, q.desc) {
                        (false, _) => "",
                        (true, false) => " ▲",
                        (true, true) => " ▼",
                    },
                }
            })
            .collect();
        let pages = self.matching.div_ceil(PER_PAGE).max(1);
        let page_link = |p: usize| self.href(&[("page", Some((p + 1).to_string()))]);
        let (first, prev) = if self.page > 0 {
            (Some(page_link(0)), Some(page_link(self.page - 1)))
        } else {
            (None, None)
        };
        let (next, last) = if self.page + 1 < pages {
            (Some(page_link(self.page + 1)), Some(page_link(pages - 1)))
        } else {
            (None, None)
        };
        let start = self.page * PER_PAGE;
        let range = if self.matching == 0 {
            "0".to_string()
        } else {
            format!(
                "{}–{}",
                crate::format::count(start as u64 + 1),
                crate::format::count((start + self.rows.len()) as u64)
            )
        };
        let counts = if self.matching == self.total {
            crate::format::count(self.total as u64)
        } else {
            format!(
                "{} of {}",
                crate::format::count(self.matching as u64),
                crate::format::count(self.total as u64)
            )
        };
        // The filter box shows the text as typed (the query holds it
        // lower-cased for matching).
        let typed = self
            .params
            .get(&format!("{}.q", self.id))
            .map(|t| t.trim().chars().take(MAX_FILTER_CHARS).collect::<String>())
            .filter(|t| t.to_lowercase() == q.filter)
            .unwrap_or_else(|| q.filter.clone());
        let own = |k: &str| k.starts_with(&format!("{}.", self.id));
        let hidden = self
            .params
            .iter()
            .filter(|(k, _)| !own(k) || k.ends_with(".sort") || k.ends_with(".order"))
            .map(|(k, v)| Hidden {
                name: k.clone(),
                value: v.clone(),
            })
            .collect();
        let t = TableTemplate {
            id: self.id,
            caption: self.caption,
            filter: &typed,
            headers,
            rows: &self.rows,
            columns: self.columns.len(),
            empty: self.empty,
            counts,
            path: self.path,
            hidden,
            first,
            prev,
            next,
            last,
            range,
        };
        Html::trusted(t.render().unwrap_or_else(|e| escape(&e.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLS: [Column; 2] = [Column::sortable("ID"), Column::plain("Note")];

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn query_parsing_falls_back_on_bad_values() {
        let q = TableQuery::parse(
            "t",
            &params(&[("t.sort", "1"), ("t.page", "x"), ("t.q", "  AbC ")]),
            &COLS,
            (0, true),
        );
        // Column 1 is not sortable: the default applies.
        assert_eq!((q.sort, q.desc, q.page), (0, true, 0));
        assert_eq!(q.filter, "abc");
        let q = TableQuery::parse(
            "t",
            &params(&[("t.sort", "0"), ("t.order", "asc"), ("t.page", "3")]),
            &COLS,
            (0, true),
        );
        assert_eq!((q.sort, q.desc, q.page), (0, false, 2));
        let long = "x".repeat(10_000);
        let q = TableQuery::parse("t", &params(&[("t.q", &long)]), &COLS, (0, false));
        assert_eq!(q.filter.len(), MAX_FILTER_CHARS);
    }

    #[test]
    fn pages_are_the_sorted_order_cut_in_pieces() {
        let rows: Vec<u32> = (0..1234).rev().collect();
        let mut seen = Vec::new();
        for page in 0..25 {
            let q = TableQuery {
                sort: 0,
                desc: false,
                filter: String::new(),
                page,
            };
            let p = page_of(rows.clone(), &q, |_, _| true, |a, b, _| a.cmp(b));
            assert_eq!(p.total, 1234);
            assert_eq!(p.page, page.min(24));
            if page < 25 {
                seen.extend(p.rows);
            }
        }
        assert_eq!(seen, (0..1234).collect::<Vec<_>>());
        // A page past the end shows the last one.
        let q = TableQuery {
            sort: 0,
            desc: true,
            filter: String::new(),
            page: 99,
        };
        let p = page_of(rows.clone(), &q, |_, _| true, |a, b, _| a.cmp(b));
        assert_eq!(p.page, 24);
        assert_eq!(p.rows, (0..34).rev().collect::<Vec<_>>());
    }

    #[test]
    fn the_bounded_buffer_gives_the_pages_of_a_full_sort() {
        // 10,007 distinct values in a scrambled order (a full-period LCG).
        let n = 10_007u64;
        let rows: Vec<u64> = (0..n).map(|i| (i * 7_919 + 13) % n).collect();
        for (page, desc) in [
            (0, false),
            (3, true),
            (57, false),
            (200, false),
            (500, true),
        ] {
            let q = TableQuery {
                sort: 0,
                desc,
                filter: String::new(),
                page,
            };
            let p = page_of(rows.iter().copied(), &q, |_, _| true, |a, b, _| a.cmp(b));
            let mut all: Vec<u64> = (0..n).collect();
            if desc {
                all.reverse();
            }
            let last = (n as usize - 1) / PER_PAGE;
            let shown = page.min(last);
            assert_eq!(p.page, shown);
            let want: Vec<u64> = all
                .into_iter()
                .skip(shown * PER_PAGE)
                .take(PER_PAGE)
                .collect();
            assert_eq!(p.rows, want, "page {page}");
            assert_eq!((p.matching, p.total), (n as usize, n as usize));
        }
    }

    #[test]
    fn filter_keeps_matching_rows_only() {
        let rows = vec!["web-1", "Web-2", "db-1"];
        let q = TableQuery {
            sort: 0,
            desc: false,
            filter: "web".into(),
            page: 0,
        };
        let p = page_of(rows, &q, |r, f| contains(r, f), |a, b, _| a.cmp(b));
        assert_eq!(p.rows, vec!["Web-2", "web-1"]);
        assert_eq!((p.matching, p.total), (2, 3));
        assert!(contains("Ünïcode", "ünï"));
        assert!(contains("anything", ""));
    }

    #[test]
    fn rendered_table_links_keep_other_keys_and_escape_cells() {
        let p = params(&[("other.page", "2"), ("t.q", "<X>")]);
        let q = TableQuery::parse("t", &p, &COLS, (0, false));
        let t = Table {
            id: "t",
            caption: "Tasks",
            columns: &COLS,
            rows: vec![vec![Html::text("<script>"), Html::text("n")]],
            query: &q,
            matching: 120,
            total: 500,
            page: 1,
            path: "/ui/tasks",
            params: &p,
            empty: "none",
        };
        let html = t.render().into_string();
        assert!(html.contains("&#60;script&#62;"));
        assert!(!html.contains("<script>"));
        // The filter as typed (matching is case-insensitive).
        assert_eq!(q.filter, "<x>");
        assert!(html.contains("value=\"&#60;X&#62;\""));
        // Sorting keeps the other table's page and drops this one's.
        assert!(html.contains(
            "href=\"/ui/tasks?other.page=2&#38;t.order=desc&#38;t.q=%3CX%3E&#38;t.sort=0\""
        ));
        assert!(html.contains("51–51"));
        assert!(html.contains("120 of 500"));
        assert!(html.contains("t.page=3"), "{html}");
        assert!(html.contains("t.page=1"));
    }
}
