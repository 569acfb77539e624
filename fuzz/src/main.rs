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
    afl::fuzz!(|data: &[u8]| {
        target(data);
    });
}
