//! Links the `agent-shim` binary as a position-dependent executable on Linux (`-no-pie`).
//!
//! Why: a position-independent executable is relocated by the dynamic loader at every start —
//! here ~58,600 relative relocations written into ~1 MB of `.data.rel.ro`, each page of it
//! copied on write — which was a third of `agent-shim --version`'s CPU and 250 of its ~430 page
//! faults, paid again by every shell-hook call (`env --export` on each `cd`, `enter`, `leave`).
//! Linked at a fixed address, the linker resolves them once and the loader has nothing to do
//! (bench/README.md, "Profiles", "Hook path").
//!
//! The cost: the binary's own code and data are no longer placed at a random address (ASLR);
//! shared libraries, heap and stacks still are. Nothing else changes.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    // glibc Linux, dynamically linked (a `crt-static` build is a static PIE; leave it alone).
    let static_crt = var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static");
    if var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu" && !static_crt
    {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
