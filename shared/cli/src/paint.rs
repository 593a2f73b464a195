//! Colour for a person at a terminal: on only when stdout is a terminal and `NO_COLOR` is unset,
//! so pipes, files and `--output json` get plain text.

use owo_colors::OwoColorize;

/// Paints text, or leaves it as it is.
#[derive(Debug, Clone, Copy)]
pub struct Paint {
    on: bool,
}

impl Paint {
    /// A painter that colours when `on`.
    pub fn new(on: bool) -> Self {
        Paint { on }
    }

    fn with(&self, text: &str, style: owo_colors::Style) -> String {
        if self.on {
            text.style(style).to_string()
        } else {
            text.to_owned()
        }
    }

    /// Bold.
    pub fn bold(&self, text: &str) -> String {
        self.with(text, owo_colors::Style::new().bold())
    }

    /// Green: all is well.
    pub fn green(&self, text: &str) -> String {
        self.with(text, owo_colors::Style::new().green())
    }

    /// Red: failed, stale, rolled back.
    pub fn red(&self, text: &str) -> String {
        self.with(text, owo_colors::Style::new().red().bold())
    }

    /// Yellow: held or warned.
    pub fn yellow(&self, text: &str) -> String {
        self.with(text, owo_colors::Style::new().yellow())
    }

    /// Cyan: in flight.
    pub fn cyan(&self, text: &str) -> String {
        self.with(text, owo_colors::Style::new().cyan())
    }

    /// Dim: nothing yet.
    pub fn dim(&self, text: &str) -> String {
        self.with(text, owo_colors::Style::new().dimmed())
    }
}

#[cfg(test)]
mod tests {
    use super::Paint;

    #[test]
    fn colour_only_when_on() {
        assert_eq!(Paint::new(false).red("x"), "x");
        let painted = Paint::new(true).red("x");
        assert!(
            painted.starts_with("\u{1b}[") && painted.contains('x'),
            "{painted:?}"
        );
    }
}
