//! Build script of the `agent-shim` binary: on glibc Linux, links it with packed relative
//! relocations (`-z pack-relative-relocs`, the ELF `DT_RELR` table).
//!
//! The binary is a position-independent executable with ~60,000 relative relocations. As plain
//! `RELA` entries they are a 1.4 MB table that the dynamic loader reads at every start, before
//! `main` — on the shell hook's path (`agent-shim env`, `enter`) that was ~0.3–0.8 ms CPU, and the
//! table's pages stayed in the gateway's resident memory (~1.4 MiB). `DT_RELR` encodes the same
//! relocations in ~17 KB; the image keeps its address randomisation.
//!
//! Only where the C library we link against loads `DT_RELR` (glibc ≥ 2.36; binutils ≥ 2.38, LLVM
//! lld ≥ 15 and mold write it, an older GNU ld warns and ignores the option): a binary with it
//! does not start on an older glibc, so cross builds and older systems keep the classic table.

use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let native = var("TARGET") == var("HOST");
    if native
        && var("CARGO_CFG_TARGET_OS") == "linux"
        && var("CARGO_CFG_TARGET_ENV") == "gnu"
        && glibc_at_least(2, 36)
    {
        println!("cargo::rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether this system's glibc (`getconf GNU_LIBC_VERSION`, e.g. "glibc 2.36") is at least
/// `major.minor`; false when it cannot tell.
fn glibc_at_least(major: u32, minor: u32) -> bool {
    let Ok(out) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(version) = text.trim().strip_prefix("glibc ") else {
        return false;
    };
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(a), Some(b)) => (a, b) >= (major, minor),
        _ => false,
    }
}
