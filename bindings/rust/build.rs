//! build.rs - find libphantompool and its header, link the library, and
//! record the header's struct layout for the FFI layout test.
//!
//! Where the library is:
//!   PHANTOMPOOL_LIB_DIR      the folder holding libphantompool.so (the
//!                            build tree's build/ for `make check-rust`);
//!                            this crate's own tests, examples and benches
//!                            get an rpath to it
//!   otherwise                `pkg-config --variable=libdir phantompool`,
//!                            else the linker's default search path
//! Where the header is:
//!   PHANTOMPOOL_INCLUDE_DIR  the folder holding phantompool.h
//!   otherwise                `pkg-config --variable=includedir phantompool`,
//!                            else this source tree's ../../include
//!
//! The layout probe (abi/layout.c) is compiled with $CC (default `cc`)
//! against that header and run; its output, $OUT_DIR/c_layout.rs, is what
//! `ffi::tests::layout_matches_header` compares the Rust declarations with.
//! If it cannot be built, the file says why and that test fails (the crate
//! itself still builds: at run time `Pool::open` checks the sizes with
//! pp_abi_size()).
use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn pkg_config_var(var: &str) -> Option<String> {
    let out = Command::new("pkg-config")
        .args(["--variable", var, "phantompool"])
        .output()
        .ok()?;
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    if out.status.success() && !s.is_empty() {
        Some(s)
    } else {
        None
    }
}

fn env_dir(name: &str) -> Option<String> {
    println!("cargo:rerun-if-env-changed={}", name);
    env::var(name).ok().filter(|s| !s.is_empty())
}

/// Compile and run abi/layout.c; returns its output (Rust source) or why not.
fn probe_layout(include: &Path, out_dir: &Path) -> Result<String, String> {
    let cc = env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let exe = out_dir.join("pp_layout_probe");
    let st = Command::new(&cc)
        .arg("-std=gnu11")
        .arg("-I")
        .arg(include)
        .arg("-o")
        .arg(&exe)
        .arg("abi/layout.c")
        .status()
        .map_err(|e| format!("cannot run {}: {}", cc, e))?;
    if !st.success() {
        return Err(format!("{} abi/layout.c -I {} failed", cc, include.display()));
    }
    let out = Command::new(&exe)
        .output()
        .map_err(|e| format!("cannot run the layout probe: {}", e))?;
    if !out.status.success() {
        return Err("the layout probe failed".to_string());
    }
    String::from_utf8(out.stdout).map_err(|_| "the layout probe printed non-UTF-8".to_string())
}

fn main() {
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    println!("cargo:rerun-if-changed=abi/layout.c");
    println!("cargo:rerun-if-changed=build.rs");

    let lib_dir = env_dir("PHANTOMPOOL_LIB_DIR").or_else(|| pkg_config_var("libdir"));
    if let Some(dir) = &lib_dir {
        println!("cargo:rustc-link-search=native={}", dir);
        // For this crate's own test, example and bench binaries only (a
        // dependent crate's binaries do not inherit link args).
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir);
        println!("cargo:rerun-if-changed={}/libphantompool.so", dir);
    }
    println!("cargo:rustc-link-lib=dylib=phantompool");

    let include = env_dir("PHANTOMPOOL_INCLUDE_DIR")
        .or_else(|| pkg_config_var("includedir"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../../include"));
    println!("cargo:rerun-if-changed={}", include.join("phantompool.h").display());

    let text = match probe_layout(&include, &out_dir) {
        Ok(src) => format!("{}pub const C_PROBE_ERROR: Option<&str> = None;\n", src),
        Err(why) => {
            println!("cargo:warning=phantompool layout probe: {}", why);
            format!(
                "pub const C_SIZES: &[(&str, usize)] = &[];\n\
                 pub const C_OFFSETS: &[(&str, &str, usize)] = &[];\n\
                 pub const C_ABI_IDS: &[(&str, i32)] = &[];\n\
                 pub const C_ERRORS: &[(&str, i32)] = &[];\n\
                 pub const C_PROBE_ERROR: Option<&str> = Some({:?});\n",
                why
            )
        }
    };
    fs::write(out_dir.join("c_layout.rs"), text).expect("write c_layout.rs");
}
