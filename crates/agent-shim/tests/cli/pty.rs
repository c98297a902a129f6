//! A pseudo-terminal for driving a real interactive shell (rustix's pty API, no extra crate):
//! the shell runs in its own session with the pty as controlling terminal, a thread collects
//! everything it prints, and `expect` waits (with a timeout, never a bare sleep) for text to
//! appear in that output with ANSI escapes and carriage returns removed.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long `expect` waits by default.
pub const TIMEOUT: Duration = Duration::from_secs(10);

struct Output {
    bytes: Vec<u8>,
    closed: bool,
}

type Shared = Arc<(Mutex<Output>, Condvar)>;

/// A program running in a pseudo-terminal.
pub struct Pty {
    name: String,
    child: Child,
    writer: File,
    output: Shared,
    /// Where the next `expect` starts looking, in the cleaned output.
    mark: usize,
}

/// Opens a pty pair: (master, slave).
fn open_pair() -> (OwnedFd, OwnedFd) {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap();
    let slave = rustix::fs::open(
        name.as_c_str(),
        rustix::fs::OFlags::RDWR | rustix::fs::OFlags::NOCTTY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .unwrap();
    rustix::termios::tcsetwinsize(
        &slave,
        rustix::termios::Winsize {
            ws_row: 40,
            ws_col: 160,
            ws_xpixel: 0,
            ws_ypixel: 0,
        },
    )
    .unwrap();
    (master, slave)
}

impl Pty {
    /// Starts `cmd` with the slave side of a new pty as its stdin, stdout, stderr and
    /// controlling terminal. `name` labels the transcript.
    pub fn spawn(name: &str, mut cmd: Command) -> Pty {
        let (master, slave) = open_pair();
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: runs in the forked child before exec and only makes two system calls
        // (setsid, ioctl), which are async-signal-safe; nothing is allocated or locked.
        unsafe {
            cmd.pre_exec(|| {
                rustix::process::setsid()?;
                rustix::process::ioctl_tiocsctty(BorrowedFd::borrow_raw(0))?;
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        // `cmd` holds the slave's copies until it is dropped: drop it so that reading the master
        // ends (EIO) once the program and its children have closed the terminal.
        drop(cmd);
        let master = File::from(master);
        let mut reader = master.try_clone().unwrap();
        let output: Shared = Arc::new((
            Mutex::new(Output {
                bytes: Vec::new(),
                closed: false,
            }),
            Condvar::new(),
        ));
        let shared = output.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                let n = reader.read(&mut buf).unwrap_or(0);
                let (lock, cvar) = &*shared;
                let mut out = lock.lock().unwrap();
                if n == 0 {
                    out.closed = true;
                    cvar.notify_all();
                    return;
                }
                out.bytes.extend_from_slice(&buf[..n]);
                cvar.notify_all();
            }
        });
        Pty {
            name: name.to_owned(),
            child,
            writer: master,
            output,
            mark: 0,
        }
    }

    /// Types `line` and Enter.
    pub fn send(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
        self.writer.flush().unwrap();
    }

    /// Everything the program printed so far, without escapes and carriage returns.
    pub fn transcript(&self) -> String {
        strip_ansi(&self.output.0.lock().unwrap().bytes)
    }

    /// Waits until `needle` appears after the previous match and returns the text from the
    /// previous match up to and including it; panics with the transcript after `timeout`.
    pub fn expect_within(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let (lock, cvar) = &*self.output;
        let mut out = lock.lock().unwrap();
        loop {
            let text = strip_ansi(&out.bytes);
            if let Some(i) = text.get(self.mark..).and_then(|t| t.find(needle)) {
                let start = self.mark;
                self.mark += i + needle.len();
                return text[start..self.mark].to_owned();
            }
            let now = Instant::now();
            if out.closed || now >= deadline {
                let why = if out.closed {
                    "the terminal closed"
                } else {
                    "timed out"
                };
                drop(out);
                panic!(
                    "{}: {why} waiting for {needle:?}; transcript:\n{}",
                    self.name,
                    self.transcript()
                );
            }
            out = cvar.wait_timeout(out, deadline - now).unwrap().0;
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
        rest.trim_end_matches('\n').to_owned()
    }

    /// Sends SIGHUP to the program, as a terminal emulator does when its window is closed.
    pub fn hang_up(&self) {
        use rustix::process::{Pid, Signal, kill_process};
        kill_process(Pid::from_child(&self.child), Signal::HUP).unwrap();
    }

    /// Waits for the program to exit; panics with the transcript after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{} did not exit within {timeout:?}; transcript:\n{}",
                    self.name,
                    self.transcript()
                );
            }
            // Wake up when the program prints or closes the terminal, else poll every 50 ms.
            let (lock, cvar) = &*self.output;
            let out = lock.lock().unwrap();
            if !out.closed {
                let _ = cvar.wait_timeout(out, Duration::from_millis(50)).unwrap();
            } else {
                drop(out);
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// The transcript, framed, for the test log.
    pub fn print_transcript(&self) {
        println!(
            "----- {} (pty transcript) -----\n{}\n----- end of {} -----",
            self.name,
            render(&self.output.0.lock().unwrap().bytes),
            self.name
        );
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `bytes` as text without ANSI/VT escape sequences (CSI, OSC, DCS, two-byte escapes),
/// carriage returns and other control characters but newline and tab. An escape sequence cut off
/// at the end is dropped, so a prefix of the output always cleans to a prefix of the result.
pub fn strip_ansi(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.next() {
                // CSI: parameters and intermediates, then one final byte in @..~
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC, DCS, SOS, PM, APC: up to BEL or ESC \
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    while let Some(c) = chars.next() {
                        if c == '\x07' {
                            break;
                        }
                        if c == '\x1b' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                // Character set selection and the like: ESC ( B
                Some('(' | ')' | '*' | '+' | '#' | '%') => {
                    chars.next();
                }
                // Two-byte escapes: ESC = , ESC > , ESC M …
                Some(_) | None => {}
            },
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// `bytes` as a terminal would show them, line by line: carriage return, backspace, cursor
/// forward/back/column and erase-in-line are applied (so a shell's redraws of the line being
/// typed show once), other escapes are dropped, trailing blanks cut and blank runs folded.
pub fn render(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut lines: Vec<String> = Vec::new();
    let mut line: Vec<char> = Vec::new();
    let mut col = 0usize;
    let mut chars = text.chars().peekable();
    let put = |line: &mut Vec<char>, col: &mut usize, c: char| {
        if *col >= line.len() {
            line.resize(*col, ' ');
            line.push(c);
        } else {
            line[*col] = c;
        }
        *col += 1;
    };
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.next() {
                Some('[') => {
                    let mut params = String::new();
                    let mut last = None;
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            last = Some(c);
                            break;
                        }
                        params.push(c);
                    }
                    let n = params.parse::<usize>().unwrap_or(1).max(1);
                    match last {
                        Some('C') => col += n,
                        Some('D') => col = col.saturating_sub(n),
                        Some('G') => col = n - 1,
                        Some('K') if params.is_empty() || params == "0" => line.truncate(col),
                        Some('K') if params == "2" => line.clear(),
                        _ => {}
                    }
                }
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    while let Some(c) = chars.next() {
                        if c == '\x07' {
                            break;
                        }
                        if c == '\x1b' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                Some('(' | ')' | '*' | '+' | '#' | '%') => {
                    chars.next();
                }
                Some(_) | None => {}
            },
            '\r' => col = 0,
            '\x08' => col = col.saturating_sub(1),
            '\n' => {
                lines.push(line.drain(..).collect());
                col = 0;
            }
            '\t' => put(&mut line, &mut col, ' '),
            c if c.is_control() => {}
            c => put(&mut line, &mut col, c),
        }
    }
    lines.push(line.into_iter().collect());
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

#[test]
fn strip_ansi_removes_escapes_and_keeps_text() {
    let raw = b"\x1b]0;title\x07\x1b[?2004hready> \x1b[1;32mcd\x1b[0m x\r\nok\x1b(B\x1b=\r\n\x1b[";
    assert_eq!(strip_ansi(raw), "ready> cd x\nok\n");
}

#[test]
fn render_applies_redraws() {
    // fish: the typed line redrawn with colours, its missing-newline mark erased.
    let raw =
        b"ready> cd \r\x1b[10Cproj\r\x1b[14C\x08\x08\x08\x08\x08\x08\x08\x1b[34mcd\x1b[m proj\r\n\
                \xe2\x8f\x8e    \r\xe2\x8f\x8e \r\x1b[Kdirenv: loading\r\n";
    assert_eq!(render(raw), "ready> cd proj\ndirenv: loading");
}
