//! One AFL++ binary for every decoder of outside bytes: `jemput-fuzz TARGET`, where
//! TARGET is one of `jemput_core::untrusted::TARGETS`.

fn main() {
    let name = std::env::args().nth(1).unwrap_or_default();
    let Some(&(_, target)) = jemput_core::untrusted::TARGETS
        .iter()
        .find(|(n, _)| *n == name)
    else {
        let names: Vec<&str> = jemput_core::untrusted::TARGETS
            .iter()
            .map(|(n, _)| *n)
            .collect();
        eprintln!("usage: jemput-fuzz TARGET ({})", names.join(", "));
        std::process::exit(2);
    };
    // Without afl's abort-on-any-panic hook: a decoder that catches a library's panic
    // and turns it into an error (the workbook reader does) is not a crash; a panic
    // that escapes a target still aborts, and AFL++ records it.
    afl::fuzz_nohook!(|data: &[u8]| {
        target(data);
    });
}
