//! What the demo prints, a line per step, and keeps for a test to read back: a spinner shows
//! the step under way on a terminal; elsewhere only the plain lines are written.

use std::time::Duration;

/// What the demo prints, and what a test reads back. On a terminal a spinner shows the step
/// under way; elsewhere (a pipe, a log) only the plain lines are written.
#[derive(Debug)]
pub struct Account {
    /// The lines printed.
    pub lines: Vec<String>,
    /// Each dossier's code, in the order of [`CASES`].
    pub codes: Vec<String>,
    spinner: Option<indicatif::ProgressBar>,
}

impl Default for Account {
    fn default() -> Self {
        use std::io::IsTerminal;
        let spinner = std::io::stdout().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Self {
            lines: Vec::new(),
            codes: Vec::new(),
            spinner,
        }
    }
}

impl Account {
    pub(super) fn say(&mut self, line: String) {
        match &self.spinner {
            Some(bar) => {
                bar.println(&line);
                bar.set_message(format!("after: {line}"));
            }
            None => println!("{line}"),
        }
        self.lines.push(line);
    }

    pub(super) fn done(&self) {
        if let Some(bar) = &self.spinner {
            bar.finish_and_clear();
        }
    }
}
