//! mail-parser checks some malformed MIME trees with `debug_assert!`, which
//! fuzz builds keep on; mss parses under `catch_unwind` for that reason (see
//! `mss_imap::message`). libfuzzer's panic hook aborts before any unwinding,
//! so such a caught panic would count as a crash: this hook lets panics from
//! mail-parser unwind to mss's guard and aborts on every other one.

use std::sync::Once;

pub fn let_mail_parser_assertions_unwind() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.location().is_some_and(|l| l.file().contains("/mail-parser-")) {
                return;
            }
            default(info);
            std::process::abort();
        }));
    });
}
