//! A real interactive program in a pseudo-terminal, for the shell-hook tests. `expectrl` spawns it
//! (in its own session, the pty as its controlling terminal) and matches its output; every byte
//! the program prints is also fed to a `vt100` screen (the transcript as a user would have seen
//! it, redraws applied) and kept raw, so that a test can check everything that was ever printed
//! (escapes removed by `strip-ansi-escapes`), even text a later redraw erased from the screen.
//! Waiting never spins and never sleeps blindly: it polls the pty until output arrives or the
//! deadline passes.

use expectrl::process::unix::{PtyStream, Signal, UnixProcess, WaitStatus};
use expectrl::process::{NonBlocking, Process};
use expectrl::{Expect, Session};
use std::io::{self, Read, Write};
use std::num::NonZeroU16;
use std::os::fd::{AsFd, BorrowedFd};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long `expect` waits by default.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The window size the program sees (and the screen uses): wide enough that no command line the
/// tests type wraps.
const ROWS: u16 = 40;
const COLS: u16 = 200;
/// Lines of scrollback the screen keeps: more than any test prints.
const SCROLLBACK: usize = 10_000;

/// The pty's output side as the session reads it: each read also goes to the screen and the raw
/// log.
struct Tee {
    pty: PtyStream,
    screen: vt100::Parser,
    raw: Vec<u8>,
}

impl Read for Tee {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.pty.read(buf)?;
        self.screen.process(&buf[..n]);
        self.raw.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pty.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.pty.flush()
    }
}

impl NonBlocking for Tee {
    fn set_blocking(&mut self, on: bool) -> io::Result<()> {
        self.pty.set_blocking(on)
    }
}

impl AsFd for Tee {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.pty.as_fd()
    }
}

/// A program running in a pseudo-terminal.
pub struct Terminal {
    name: String,
    session: Session<UnixProcess, Tee>,
}

impl Terminal {
    /// A command that runs `program args…` in the terminal as a terminal emulator sets it up:
    /// echo on and ROWS x COLS. (expectrl starts programs with echo off, and bash's line editor
    /// then does not show what is typed; `stty` undoes that before the program starts.)
    pub fn command(program: &str, args: &[&str]) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(format!("stty echo rows {ROWS} cols {COLS} && exec \"$@\""))
            .arg("sh")
            .arg(program)
            .args(args);
        c
    }

    /// Starts `cmd` (made by [`Terminal::command`]) in a new pty, as its stdin, stdout, stderr
    /// and controlling terminal. `name` labels the transcript.
    pub fn spawn(name: &str, cmd: Command) -> Terminal {
        let mut process = UnixProcess::spawn_command(cmd)
            .unwrap_or_else(|e| panic!("{name}: cannot start the program in a pty: {e}"));
        // expectrl sizes the pty 80x24 after the program started, perhaps after `stty` did:
        // size it again (the same size as `stty`'s, so no SIGWINCH when `stty` came last).
        process
            .set_window_size(COLS, ROWS)
            .unwrap_or_else(|e| panic!("{name}: cannot size the pty: {e}"));
        let pty = process
            .open_stream()
            .unwrap_or_else(|e| panic!("{name}: cannot open the pty: {e}"));
        let size = |n| NonZeroU16::new(n).expect("a non-zero size");
        let tee = Tee {
            pty,
            screen: vt100::Parser::new(size(ROWS), size(COLS), SCROLLBACK),
            raw: Vec::new(),
        };
        let mut session = Session::new(process, tee).unwrap();
        // `expect` below polls; the session's own timeout is never reached.
        session.set_expect_timeout(None);
        Terminal {
            name: name.to_owned(),
            session,
        }
    }

    /// Types `line` and Enter.
    pub fn send(&mut self, line: &str) {
        self.session
            .send_line(line)
            .unwrap_or_else(|e| self.fail(&format!("cannot type {line:?}: {e}")));
    }

    /// Types `keys` as they are (no Enter): a Tab, for instance, asks the shell to complete.
    pub fn type_keys(&mut self, keys: &str) {
        self.session
            .send(keys)
            .unwrap_or_else(|e| self.fail(&format!("cannot type {keys:?}: {e}")));
    }

    /// Waits until the screen shows `needle` (redrawn lines count, unlike [`Terminal::expect`]
    /// which reads the raw output); panics with the transcript after [`TIMEOUT`].
    pub fn expect_on_screen(&mut self, needle: &str) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let _ = self.session.is_matched(expectrl::Eof);
            if self.screen().contains(needle) {
                return;
            }
            if Instant::now() >= deadline {
                self.fail(&format!("the screen never showed {needle:?}"));
            }
            self.wait_output(deadline);
        }
    }

    /// Everything the program printed so far, escape sequences and carriage returns removed.
    pub fn transcript(&self) -> String {
        let text = strip_ansi_escapes::strip(&self.session.get_stream().raw);
        String::from_utf8_lossy(&text).into_owned()
    }

    /// The terminal as a user would see it now, scrollback included: one line per row, trailing
    /// blanks cut, runs of blank lines folded.
    pub fn screen(&self) -> String {
        let mut screen = self.session.get_stream().screen.screen().clone();
        let cols = screen.size().1.get();
        let rows = usize::from(screen.size().0.get());
        let history = screen.scrollback_len();
        let mut lines: Vec<String> = Vec::new();
        // The scrollback, a screenful at a time from the oldest line, then the screen itself.
        let mut shown = 0;
        while shown < history {
            screen.set_scrollback(history - shown);
            let n = rows.min(history - shown);
            lines.extend(screen.rows(0, cols).take(n));
            shown += n;
        }
        screen.set_scrollback(0);
        lines.extend(screen.rows(0, cols));
        let mut out: Vec<&str> = Vec::new();
        for l in lines.iter().map(|l| l.trim_end()) {
            if l.is_empty() && out.last().is_none_or(|p| p.is_empty()) {
                continue;
            }
            out.push(l);
        }
        while out.last().is_some_and(|l| l.is_empty()) {
            out.pop();
        }
        out.join("\n")
    }

    /// The row the cursor is on, as the screen shows it now (trailing blanks cut), and the
    /// cursor's column.
    pub fn cursor_row(&self) -> (String, u16) {
        let screen = self.session.get_stream().screen.screen();
        let (row, col) = screen.cursor_position();
        let text = screen
            .rows(0, screen.size().1.get())
            .nth(usize::from(row))
            .unwrap_or_default();
        (text.trim_end().to_owned(), col)
    }

    /// The transcript, framed, for the test log.
    pub fn print_transcript(&self) {
        println!(
            "----- {} (terminal) -----\n{}\n----- end of {} -----",
            self.name,
            self.screen(),
            self.name
        );
    }

    /// Prints the screen and panics with `what`.
    fn fail(&self, what: &str) -> ! {
        panic!(
            "{}: {what}; the terminal shows:\n{}\n----- everything printed -----\n{}",
            self.name,
            self.screen(),
            self.transcript()
        )
    }

    /// Waits until the pty can be read or `deadline` passes.
    fn wait_output(&self, deadline: Instant) {
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = rustix::event::Timespec {
            tv_sec: left.as_secs() as _,
            tv_nsec: left.subsec_nanos() as _,
        };
        let stream = self.session.get_stream();
        let mut fds = [rustix::event::PollFd::new(
            stream,
            rustix::event::PollFlags::IN,
        )];
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => self.fail(&format!("cannot poll the pty: {e}")),
        }
    }

    /// Waits until `needle` is printed (after the previous match) and returns the output from the
    /// previous match up to and including it, raw; panics with the transcript after `timeout`
    /// or when the terminal closes first.
    pub fn expect_within(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            match self.session.check(needle) {
                Ok(found) if !found.is_empty() => {
                    return String::from_utf8_lossy(found.as_bytes()).into_owned();
                }
                Ok(_) => {}
                Err(expectrl::Error::Eof) => self.fail(&format!(
                    "the terminal closed before {needle:?} was printed"
                )),
                Err(e) => self.fail(&format!("reading the pty waiting for {needle:?}: {e}")),
            }
            if Instant::now() >= deadline {
                self.fail(&format!("{needle:?} not printed within {timeout:?}"));
            }
            self.wait_output(deadline);
        }
    }

    pub fn expect(&mut self, needle: &str) -> String {
        self.expect_within(needle, TIMEOUT)
    }

    /// Waits for a line starting with `prefix` (after the previous match) and returns the rest
    /// of that line.
    pub fn expect_line(&mut self, prefix: &str) -> String {
        self.expect(prefix);
        let rest = self.expect("\n");
        rest.trim_end_matches(['\r', '\n']).to_owned()
    }

    /// Sends SIGHUP to the program, as a terminal emulator does when its window is closed.
    pub fn hang_up(&mut self) {
        if let Err(e) = self.session.get_process_mut().signal(Signal::SIGHUP) {
            self.fail(&format!("cannot send SIGHUP: {e}"));
        }
    }

    /// Waits for the program to exit, reading what it prints meanwhile; panics with the
    /// transcript after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> WaitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            // Read what is there, so the program never blocks on a full terminal.
            let eof = self.session.is_matched(expectrl::Eof).unwrap_or(true);
            match self.session.get_process().status() {
                Ok(WaitStatus::StillAlive) => {}
                Ok(status) => return status,
                Err(e) => self.fail(&format!("cannot get the exit status: {e}")),
            }
            if Instant::now() >= deadline {
                self.fail(&format!("did not exit within {timeout:?}"));
            }
            if eof {
                // The terminal is closed: nothing to wait on but the exit itself.
                std::thread::sleep(Duration::from_millis(10));
            } else {
                self.wait_output(deadline.min(Instant::now() + Duration::from_millis(50)));
            }
        }
    }
}
