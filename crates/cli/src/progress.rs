//! The progress of a streamed apply or a resumed job on stderr: on a
//! terminal a bar showing the phase (bytes read of the file's size while
//! checking, then rows written), with ETA; otherwise a line a second once
//! the apply is a job (small files stay quiet).

use std::fmt;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use userimport::{Phase, StreamProgress};

/// What the bar says around its numbers: `job 1: writing` … `rows written`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Label {
    what: String,
    unit: &'static str,
}

/// The progress display of one apply or resume.
pub struct StreamDisplay {
    bar: Option<(ProgressBar, Arc<Mutex<Label>>)>,
    show: bool,
    last_line: Instant,
    announced: bool,
}

impl StreamDisplay {
    /// A bar when `show` and stderr is a terminal; progress lines when
    /// `show` and it is not; nothing otherwise.
    pub fn new(show: bool) -> Self {
        let bar = (show && std::io::stderr().is_terminal()).then(new_bar);
        StreamDisplay {
            bar,
            show,
            last_line: Instant::now(),
            announced: false,
        }
    }

    /// Shows `p`; always goes on.
    pub fn update(&mut self, p: &StreamProgress) -> bool {
        if let Some((bar, label)) = &self.bar {
            draw(bar, label, p);
            return true;
        }
        let Some(id) = p.job.filter(|_| self.show) else {
            return true;
        };
        if !self.announced {
            self.announced = true;
            eprintln!("job {id}: written as the file is checked; committed once it is clean");
        }
        if self.last_line.elapsed() >= Duration::from_secs(1) {
            self.last_line = Instant::now();
            eprintln!(
                "job {id}: {}/{} rows{}",
                p.rows_written,
                p.rows_read,
                if p.checked { "" } else { " (checking)" }
            );
        }
        true
    }

    /// Leaves the bar drawn as it ended: its last state is drawn now, past
    /// the draw rate limit, so a finished job shows every row written and a
    /// stopped one where it stopped.
    pub fn finish(self) {
        if let Some((bar, _)) = self.bar {
            bar.abandon();
            // The bar's line stays; what follows starts on a line of its own.
            eprintln!();
        }
    }
}

/// A bar hidden until the first progress (so no empty `0/0` bar is drawn),
/// its words read from a shared label so that each frame is whole.
fn new_bar() -> (ProgressBar, Arc<Mutex<Label>>) {
    let label = Arc::new(Mutex::new(Label::default()));
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
    let (what, unit) = (Arc::clone(&label), Arc::clone(&label));
    if let Ok(style) = ProgressStyle::with_template(
        "{what} [{bar:40}] {human_pos}/{human_len} {unit} ({eta} left)",
    ) {
        let style = style
            .progress_chars("=> ")
            .with_key("what", move |_: &ProgressState, w: &mut dyn fmt::Write| {
                if let Ok(l) = what.lock() {
                    let _ = w.write_str(&l.what);
                }
            })
            .with_key("unit", move |_: &ProgressState, w: &mut dyn fmt::Write| {
                if let Ok(l) = unit.lock() {
                    let _ = w.write_str(l.unit);
                }
            });
        bar.set_style(style);
    }
    (bar, label)
}

/// Draws `p` as one frame: the label, then length and position together.
fn draw(bar: &ProgressBar, label: &Mutex<Label>, p: &StreamProgress) {
    let who = p.job.map_or("apply".to_string(), |id| format!("job {id}"));
    let (what, unit, length, position) = match (p.phase, p.bytes_total) {
        // Checking a file of known size: bytes read of its size.
        (Phase::Checking, Some(total)) => (
            format!("{who}: checking ({} rows)", p.rows_read),
            "bytes read",
            total,
            p.bytes_read.min(total),
        ),
        (Phase::Checking, None) => (
            format!("{who}: checking"),
            "rows checked",
            p.rows_read,
            p.rows_read,
        ),
        // Writes can run ahead of the rows the writer has counted as read.
        _ => (
            format!("{who}: writing"),
            "rows written",
            p.rows_read.max(p.rows_written),
            p.rows_written,
        ),
    };
    let new_unit = match label.lock() {
        Ok(mut l) => {
            let changed = l.unit != unit;
            *l = Label { what, unit };
            changed
        }
        Err(_) => false,
    };
    if new_unit {
        // Another quantity: its own rate.
        bar.reset_eta();
    }
    bar.update(|state| {
        state.set_len(length);
        state.set_pos(position);
    });
    if bar.is_hidden() {
        bar.set_draw_target(ProgressDrawTarget::stderr());
        bar.tick();
    }
}
