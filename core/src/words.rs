//! Words for people: a document path as the field's name ("Alamat", "Status
//! kunjungan"), a visit result, a time in the kelurahan's clock — in Indonesian or
//! English. Used by the history's sentences and the conflicts' labels; the UI draws
//! its own words from `ui/src/i18n.ts`, the CLI and JSON outputs from here.

use crate::indicators::IndicatorSet;

/// The language of a text meant for a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Id,
    En,
}

impl Lang {
    /// `en` (or `en-…`) is English; anything else, Indonesian (the default).
    pub fn parse(s: &str) -> Lang {
        if s.trim().to_ascii_lowercase().starts_with("en") {
            Lang::En
        } else {
            Lang::Id
        }
    }

    /// `JEMPUT_LANG`, default Indonesian.
    pub fn from_env() -> Lang {
        std::env::var("JEMPUT_LANG")
            .map(|v| Lang::parse(&v))
            .unwrap_or_default()
    }

    /// The Indonesian or the English of a text.
    pub fn pick(self, id: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Id => id,
            Lang::En => en,
        }
    }
}

/// Fields by path pattern (`*`: any one key), Indonesian and English.
const FIELDS: &[(&str, &str, &str)] = &[
    ("status", "Status kunjungan", "Visit status"),
    ("duplicate_of", "Duplikat dari", "Duplicate of"),
    ("proposal", "Usulan", "Proposal"),
    ("identity.kk", "Nomor KK", "KK number"),
    ("identity.address", "Alamat", "Address"),
    ("identity.rw", "RW", "RW"),
    ("identity.rt", "RT", "RT"),
    ("identity.kelurahan", "Kelurahan", "Kelurahan"),
    (
        "identity.kelurahan_bps",
        "Kode wilayah BPS",
        "BPS region code",
    ),
    ("identity.id_dtks", "ID DTKS", "DTKS id"),
    ("identity.idbdt", "ID BDT", "BDT id"),
    ("registry.desil", "Desil", "Decile"),
    ("registry.in_registry", "Ada di registri", "In the registry"),
    (
        "registry.imported",
        "Tanggal impor registri",
        "Registry import date",
    ),
    ("registry.programmes.pkh", "PKH", "PKH"),
    ("registry.programmes.bpnt", "BPNT", "BPNT"),
    ("registry.programmes.pbi_jk", "PBI JK", "PBI JK"),
    ("registry.programmes.kip", "KIP", "KIP"),
    ("members.*.nik", "NIK anggota", "Member's NIK"),
    ("members.*.name", "Nama anggota", "Member's name"),
    ("members.*.sex", "Jenis kelamin anggota", "Member's sex"),
    (
        "members.*.birth_date",
        "Tanggal lahir anggota",
        "Member's birth date",
    ),
    (
        "members.*.relation",
        "Hubungan keluarga",
        "Relation to the head",
    ),
    (
        "members.*.presence",
        "Keberadaan anggota",
        "Member's presence",
    ),
    (
        "members.*.in_registry",
        "Anggota ada di registri",
        "Member in the registry",
    ),
    ("visits.*.result", "Hasil kunjungan", "Visit result"),
    ("visits.*.notes", "Catatan kunjungan", "Visit notes"),
    ("visits.*.date", "Tanggal kunjungan", "Visit date"),
    ("visits.*.withdrawn", "Kunjungan ditarik", "Visit withdrawn"),
];

fn matches(pattern: &str, path: &[&str]) -> bool {
    let p: Vec<&str> = pattern.split('.').collect();
    p.len() == path.len() && p.iter().zip(path).all(|(a, b)| *a == "*" || a == b)
}

/// The field at `path` in words: "Alamat", "Status kunjungan", a criterion's name.
/// A path not named here is shown as it is.
pub fn field_label(path: &str, set: &IndicatorSet, lang: Lang) -> String {
    let parts: Vec<&str> = path.split('.').collect();
    if let ["visits", _, "answers", crit, ..] = parts.as_slice() {
        if let Some(c) = set.criterion(crit) {
            return match lang {
                Lang::Id => c.label_id.clone(),
                Lang::En => c.label_en.clone(),
            };
        }
    }
    FIELDS
        .iter()
        .find(|(p, _, _)| matches(p, &parts))
        .map(|(_, id, en)| lang.pick(id, en).to_string())
        .unwrap_or_else(|| path.to_string())
}

/// A visit result (or a household status) in words.
pub fn result_label(code: &str, lang: Lang) -> String {
    let (id, en) = match code {
        "found" => ("Ditemukan", "Found"),
        "not_found" => ("Tidak ditemukan", "Not found"),
        "moved" => ("Pindah", "Moved"),
        "died" => ("Meninggal", "Died"),
        "duplicate" => ("Duplikat", "Duplicate"),
        "refused" => ("Menolak", "Refused"),
        "lives_here" => ("Tinggal di sini", "Lives here"),
        "new" => ("Anggota baru", "New member"),
        other => return other.to_string(),
    };
    lang.pick(id, en).to_string()
}

/// `dd/mm/yyyy HH:MM WIB` (Indonesian) or `yyyy-mm-dd HH:MM WIB` (English), in the
/// default zone ([`crate::zone::Zone`]).
pub fn format_time(ms: i64, lang: Lang) -> String {
    let zone = crate::zone::Zone::default();
    let offset =
        time::UtcOffset::from_hms(zone.offset_hours(), 0, 0).unwrap_or(time::UtcOffset::UTC);
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return ms.to_string();
    };
    let t = t.to_offset(offset);
    let (y, m, d) = (t.year(), u8::from(t.month()), t.day());
    match lang {
        Lang::Id => format!(
            "{d:02}/{m:02}/{y} {:02}:{:02} {}",
            t.hour(),
            t.minute(),
            zone.name()
        ),
        Lang::En => format!(
            "{y}-{m:02}-{d:02} {:02}:{:02} {}",
            t.hour(),
            t.minute(),
            zone.name()
        ),
    }
}

/// A value for a sentence: text as it is, numbers without a trailing `.0`, yes/no in
/// words, a result code in words.
pub fn value_words(v: &serde_json::Value, lang: Lang) -> String {
    match v {
        serde_json::Value::String(s) if s == crate::indicators::UNKNOWN => {
            lang.pick("tidak tahu", "don't know").to_string()
        }
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Bool(b) => lang
            .pick(
                if *b { "ya" } else { "tidak" },
                if *b { "yes" } else { "no" },
            )
            .to_string(),
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            Some(f) => format!("{f}"),
            None => n.to_string(),
        },
        serde_json::Value::Null => "—".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_words() {
        let set = IndicatorSet::bps14();
        assert_eq!(field_label("status", &set, Lang::Id), "Status kunjungan");
        assert_eq!(field_label("identity.address", &set, Lang::En), "Address");
        assert_eq!(
            field_label("members.m-1.name", &set, Lang::Id),
            "Nama anggota"
        );
        assert_eq!(
            field_label("visits.v-1.answers.toilet", &set, Lang::Id),
            "Fasilitas buang air besar"
        );
        assert_eq!(
            field_label("something.new", &set, Lang::Id),
            "something.new"
        );
    }

    #[test]
    fn times_are_in_the_kelurahans_clock() {
        // 2026-10-31 17:30 UTC is 1 November, 00:30 in WIB.
        let ms = 1_793_467_800_000;
        assert_eq!(format_time(ms, Lang::Id), "01/11/2026 00:30 WIB");
        assert_eq!(format_time(ms, Lang::En), "2026-11-01 00:30 WIB");
    }

    #[test]
    fn values_read_naturally() {
        assert_eq!(value_words(&serde_json::json!(12.0), Lang::Id), "12");
        assert_eq!(value_words(&serde_json::json!(2.5), Lang::Id), "2.5");
        assert_eq!(value_words(&serde_json::json!(true), Lang::Id), "ya");
        assert_eq!(
            value_words(&serde_json::json!("tidak_tahu"), Lang::En),
            "don't know"
        );
    }
}
