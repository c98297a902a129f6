//! The binary's start-up image: what the dynamic loader does before `main` is on the shell hook's
//! path (`agent-shim env`, `enter`), so the build keeps it small (crates/agent-shim/build.rs).

use crate::hooks::EXE;
use std::process::Command;

/// glibc's version here as (major, minor), from `getconf GNU_LIBC_VERSION`.
fn glibc() -> Option<(u32, u32)> {
    let out = Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let (a, b) = text.trim().strip_prefix("glibc ")?.split_once('.')?;
    Some((a.parse().ok()?, b.split('.').next()?.parse().ok()?))
}

/// The value of dynamic-section tag `tag` (e.g. "RELASZ") in `readelf -d` output, in bytes.
fn dynamic_size(dynamic: &str, tag: &str) -> Option<u64> {
    let needle = format!("({tag})");
    let line = dynamic.lines().find(|l| l.contains(&needle))?;
    line.split_whitespace().rev().nth(1)?.parse().ok()
}

#[test]
fn relative_relocations_are_packed_where_glibc_loads_them() {
    let Some(version) = glibc() else {
        eprintln!("not a glibc system: the classic relocation table is kept");
        return;
    };
    let out = Command::new("readelf")
        .args(["-d", EXE])
        .output()
        .expect("readelf (binutils) runs");
    assert!(out.status.success(), "readelf -d {EXE} failed");
    let dynamic = String::from_utf8_lossy(&out.stdout);
    let rela = dynamic_size(&dynamic, "RELASZ").unwrap_or(0);
    let relr = dynamic_size(&dynamic, "RELRSZ");
    if version >= (2, 36) {
        // Unpacked, the ~60,000 relative relocations were a 1.4 MB RELA table.
        let relr =
            relr.unwrap_or_else(|| panic!("no DT_RELR table on glibc {version:?}:\n{dynamic}"));
        assert!(relr > 0 && relr < 100_000, "RELR table of {relr} bytes");
        assert!(rela < 100_000, "RELA table still {rela} bytes:\n{dynamic}");
    } else {
        assert_eq!(relr, None, "glibc {version:?} cannot load DT_RELR");
    }
    let run = Command::new(EXE).arg("--version").output().expect("runs");
    assert!(run.status.success(), "{EXE} --version failed");
    assert!(String::from_utf8_lossy(&run.stdout).starts_with("agent-shim "));
}
