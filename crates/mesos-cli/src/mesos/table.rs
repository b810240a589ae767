//! Plain-text tables sized to the terminal.
//!
//! Columns are separated by two spaces and headed in capitals, as most
//! operator CLIs print them. When the natural width does not fit, the
//! widest columns give way first, down to a floor, and their long values
//! are elided in the middle (`a3f0…-S0`): Mesos ids differ at both ends
//! (the master's id in front, the sequence number behind), so both stay
//! readable. With no width (stdout is not a terminal) values are printed
//! whole, so scripts that cut columns get full ids.

/// Columns never shrink below this many characters (or their natural
/// width, if smaller), however narrow the terminal.
const MIN_COLUMN: usize = 8;
const GAP: &str = "  ";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_uppercase()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are blank, extra cells are dropped.
    pub fn push(&mut self, mut row: Vec<String>) {
        row.resize(self.headers.len(), String::new());
        // A newline or tab inside a value would break the layout.
        for cell in &mut row {
            if cell.contains(['\n', '\t', '\r']) {
                *cell = cell.replace(['\n', '\t', '\r'], " ");
            }
        }
        self.rows.push(row);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// The table as text (each line ends in `\n`), fitted to `width`
    /// columns when given.
    pub fn render(&self, width: Option<usize>) -> String {
        let natural: Vec<usize> = (0..self.headers.len())
            .map(|c| {
                self.rows
                    .iter()
                    .map(|r| chars(&r[c]))
                    .chain(std::iter::once(chars(&self.headers[c])))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let widths = match width {
            Some(w) => fit(&natural, w),
            None => natural,
        };
        let mut out = String::new();
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                let shown = elide(cell, widths[c]);
                line.push_str(&shown);
                line.extend(std::iter::repeat_n(' ', widths[c] - chars(&shown)));
                line.push_str(GAP);
            }
            // Blank trailing cells leave no trailing blanks.
            out.push_str(line.trim_end_matches(' '));
            out.push('\n');
        }
        out
    }
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Column widths for a terminal `total` characters wide: the widest
/// column is narrowed one character at a time until the row fits or every
/// column is at its floor (then the terminal wraps, nothing is lost).
pub fn fit(natural: &[usize], total: usize) -> Vec<usize> {
    let mut widths = natural.to_vec();
    let gaps = GAP.len() * natural.len().saturating_sub(1);
    let floor = |c: usize| natural[c].min(MIN_COLUMN);
    loop {
        let used: usize = widths.iter().sum::<usize>() + gaps;
        if used <= total {
            return widths;
        }
        let widest = (0..widths.len())
            .filter(|&c| widths[c] > floor(c))
            .max_by_key(|&c| (widths[c], std::cmp::Reverse(c)));
        let Some(c) = widest else {
            return widths;
        };
        // Narrow by the excess at once when that keeps it the widest, so
        // a 10,000-character value does not take 10,000 steps.
        let excess = used - total;
        let second = (0..widths.len())
            .filter(|&o| o != c)
            .map(|o| widths[o])
            .max()
            .unwrap_or(0);
        let step = excess
            .min(widths[c] - floor(c))
            .min(widths[c].saturating_sub(second).max(1));
        widths[c] -= step;
    }
}

/// `s` cut to `width` characters, the middle replaced by `…`.
pub fn elide(s: &str, width: usize) -> String {
    let n = chars(s);
    if n <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let keep = width - 1;
    let head = keep.div_ceil(2);
    let tail = keep - head;
    let mut out: String = s.chars().take(head).collect();
    out.push('…');
    out.extend(s.chars().skip(n - tail));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        let mut t = Table::new(&["id", "hostname", "active"]);
        t.push(vec![
            "0f5e2a4c-1b6d-4c3e-9a8f-7d6b5c4a3e21-S0".into(),
            "agent-one.example.com".into(),
            "true".into(),
        ]);
        t.push(vec!["S1".into(), "h2".into()]);
        t
    }

    #[test]
    fn full_values_without_a_width() {
        let text = table().render(None);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            format!("{:<39}  {:<21}  ACTIVE", "ID", "HOSTNAME")
        );
        assert!(lines[1].starts_with("0f5e2a4c-1b6d-4c3e-9a8f-7d6b5c4a3e21-S0  agent-one"));
        // A short row is padded with blanks, not shifted.
        assert_eq!(lines[2], format!("{:<39}  h2", "S1"));
    }

    #[test]
    fn narrows_the_widest_column_and_elides_in_the_middle() {
        let text = table().render(Some(50));
        for line in text.lines() {
            assert!(line.chars().count() <= 50, "{line:?}");
        }
        let row = text.lines().nth(1).unwrap();
        assert!(row.starts_with("0f5e2a4c"), "{row}");
        assert!(row.contains('…'));
        assert!(row.contains("-S0 "), "the tail of the id stays: {row}");
        assert!(row.ends_with("true"));
    }

    #[test]
    fn never_below_the_floor() {
        let natural = [40, 3, 30];
        let w = fit(&natural, 5);
        assert_eq!(w, vec![MIN_COLUMN, 3, MIN_COLUMN]);
        // Fits already: unchanged.
        assert_eq!(fit(&natural, 200), natural.to_vec());
        // Huge values converge quickly and exactly.
        let w = fit(&[100_000, 10], 60);
        assert_eq!(w, vec![48, 10]);
    }

    #[test]
    fn elision() {
        assert_eq!(elide("abcdefghij", 10), "abcdefghij");
        assert_eq!(elide("abcdefghij", 5), "ab…ij");
        assert_eq!(elide("abcdefghij", 1), "…");
        assert_eq!(elide("abcdefghij", 0), "");
        assert_eq!(elide("äöüäöüäöü", 4), "äö…ü");
    }

    #[test]
    fn control_characters_do_not_break_rows() {
        let mut t = Table::new(&["a", "b"]);
        t.push(vec!["x\ny".into(), "z\tw".into()]);
        assert_eq!(t.render(None), "A    B\nx y  z w\n");
        assert_eq!(t.len(), 1);
    }
}
