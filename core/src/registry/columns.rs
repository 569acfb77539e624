//! Recognising the columns of a registry file: names are compared case-, space- and
//! punctuation-insensitively against the names Dinas Sosial files use, and the
//! operator can map any other header (the mapping is saved and used again).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::read::Cell;

/// A column Jemput reads from a registry file.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ts_rs::TS,
)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Field {
    IdDtks,
    Idbdt,
    IdArt,
    Nik,
    Kk,
    Name,
    Relation,
    Sex,
    BirthDate,
    Address,
    Rt,
    Rw,
    RegionCode,
    Desil,
    Pkh,
    Bpnt,
    Pbi,
    Kip,
}

impl Field {
    pub const ALL: [Field; 18] = [
        Field::IdDtks,
        Field::Idbdt,
        Field::IdArt,
        Field::Nik,
        Field::Kk,
        Field::Name,
        Field::Relation,
        Field::Sex,
        Field::BirthDate,
        Field::Address,
        Field::Rt,
        Field::Rw,
        Field::RegionCode,
        Field::Desil,
        Field::Pkh,
        Field::Bpnt,
        Field::Pbi,
        Field::Kip,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Field::IdDtks => "id_dtks",
            Field::Idbdt => "idbdt",
            Field::IdArt => "id_art",
            Field::Nik => "nik",
            Field::Kk => "kk",
            Field::Name => "name",
            Field::Relation => "relation",
            Field::Sex => "sex",
            Field::BirthDate => "birth_date",
            Field::Address => "address",
            Field::Rt => "rt",
            Field::Rw => "rw",
            Field::RegionCode => "region_code",
            Field::Desil => "desil",
            Field::Pkh => "pkh",
            Field::Bpnt => "bpnt",
            Field::Pbi => "pbi",
            Field::Kip => "kip",
        }
    }

    pub fn parse(code: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.code() == code)
    }

    /// The usual column name, as reports and the mapping screen show it.
    pub fn label(self) -> &'static str {
        self.names()[0]
    }

    /// Known column names; the first is the usual one.
    fn names(self) -> &'static [&'static str] {
        match self {
            Field::IdDtks => &[
                "ID DTKS",
                "IDDTKS",
                "ID Keluarga DTKS",
                "ID Keluarga",
                "ID Keluarga DTSEN",
            ],
            Field::Idbdt => &["IDBDT", "ID BDT", "No BDT", "IDBDT 2015"],
            Field::IdArt => &[
                "ID ART",
                "IDARTBDT",
                "ID Anggota",
                "ID ART BDT",
                "ID Anggota Keluarga",
            ],
            Field::Nik => &["NIK", "No KTP", "Nomor Induk Kependudukan", "NIK ART"],
            Field::Kk => &["No KK", "Nomor KK", "KK", "NKK", "Nomor Kartu Keluarga"],
            Field::Name => &["Nama", "Nama ART", "Nama Lengkap", "Nama Anggota", "Name"],
            Field::Relation => &[
                "Hubungan dengan KRT/KK",
                "Hubungan dengan KRT",
                "Hubungan dengan KK",
                "Hub KRT",
                "Hubungan Keluarga",
                "SHDK",
                "Status Hubungan",
                "Hubungan",
                "Status Hubungan Keluarga",
                "Status Hubungan dalam Keluarga",
                "Hubungan dengan Kepala Keluarga",
                "Hubungan dengan Kepala Rumah Tangga",
                "Hub KK",
                "HUBKEL",
            ],
            Field::Sex => &[
                "Jenis Kelamin",
                "JK",
                "Kelamin",
                "L/P",
                "JNS KEL",
                "Jns Kelamin",
                "JENKEL",
            ],
            Field::BirthDate => &["Tanggal Lahir", "Tgl Lahir", "Tgl. Lahir", "Tgl Lhr"],
            Field::Address => &["Alamat", "Alamat Rumah", "Alamat Lengkap"],
            Field::Rt => &["RT", "No RT"],
            Field::Rw => &["RW", "No RW"],
            Field::RegionCode => &[
                "Kode Wilayah",
                "Kode Desa",
                "Kode Kelurahan",
                "Kode Desa/Kelurahan",
                "Kode Kelurahan/Desa",
                "Kode Wil",
                "Kode Wilayah Kelurahan",
                "Kode Deskel",
            ],
            Field::Desil => &[
                "Desil",
                "Desil Kesejahteraan",
                "Status Kesejahteraan",
                "Desil Nasional",
                "Peringkat Desil",
            ],
            Field::Pkh => &["PKH", "Penerima PKH", "Status PKH"],
            Field::Bpnt => &["BPNT", "Penerima BPNT", "Sembako", "Status BPNT"],
            Field::Pbi => &["PBI", "PBI JK", "PBI JKN", "Penerima PBI", "Status PBI"],
            Field::Kip => &["KIP", "PIP", "Penerima KIP", "Status KIP"],
        }
    }
}

/// Every known header per field as a Markdown table, for `docs/registry.md` (a test
/// keeps the copy there current).
pub fn names_markdown() -> String {
    let mut out = String::from("| field | headers read without a mapping |\n|---|---|\n");
    for f in Field::ALL {
        let names: Vec<String> = f.names().iter().map(|n| format!("`{n}`")).collect();
        out.push_str(&format!("| `{}` | {} |\n", f.code(), names.join(", ")));
    }
    out
}

/// Lower case, letters and digits only: `Hubungan dengan KRT/KK` → `hubungandengankrtkk`.
pub fn normalise(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The operator's own column names: normalised header → field code, or `ignore`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Mapping {
    pub columns: BTreeMap<String, String>,
}

impl Mapping {
    /// Adds `HEADER=FIELD` (`FIELD` a field code or `ignore`).
    pub fn set(&mut self, header: &str, field: &str) -> Result<(), String> {
        if field != "ignore" && Field::parse(field).is_none() {
            let codes: Vec<&str> = Field::ALL.iter().map(|f| f.code()).collect();
            return Err(format!(
                "`{field}` is not a column Jemput reads; use one of {} or `ignore`",
                codes.join(", ")
            ));
        }
        let key = normalise(header);
        if key.is_empty() {
            return Err("a column name must have letters or digits".into());
        }
        self.columns.insert(key, field.to_string());
        Ok(())
    }

    /// Adds `HEADER=FIELD`, as typed on a command line.
    pub fn set_pair(&mut self, pair: &str) -> Result<(), String> {
        let (header, field) = pair
            .split_once('=')
            .ok_or_else(|| format!("a mapping is HEADER=FIELD, got `{pair}`"))?;
        self.set(header, field.trim())
    }

    /// What a header means: the operator's mapping first, then the known names.
    pub fn recognise(&self, header: &str) -> Option<Field> {
        let key = normalise(header);
        if key.is_empty() {
            return None;
        }
        if let Some(code) = self.columns.get(&key) {
            return Field::parse(code);
        }
        Field::ALL
            .into_iter()
            .find(|f| f.names().iter().any(|n| normalise(n) == key))
    }
}

/// The header row of a sheet and what each of its columns means.
#[derive(Debug, Clone)]
pub struct Header {
    /// 0-based index of the header row (title rows above it are skipped).
    pub row: usize,
    pub names: Vec<String>,
    pub fields: Vec<Option<Field>>,
}

impl Header {
    pub fn column(&self, f: Field) -> Option<usize> {
        self.fields.iter().position(|x| *x == Some(f))
    }
    pub fn has(&self, f: Field) -> bool {
        self.column(f).is_some()
    }
    /// Headers that mean nothing to Jemput (and are not explicitly ignored).
    pub fn unrecognised(&self, mapping: &Mapping) -> Vec<String> {
        self.names
            .iter()
            .zip(&self.fields)
            .filter(|(n, f)| {
                f.is_none()
                    && !n.trim().is_empty()
                    && mapping.columns.get(&normalise(n)).map(String::as_str) != Some("ignore")
            })
            .map(|(n, _)| n.clone())
            .collect()
    }
}

/// The first of the top 30 rows that names at least three known columns, one of them
/// an identifier or a name: the header, below any title rows.
pub fn find_header(rows: &[Vec<Cell>], mapping: &Mapping) -> Option<Header> {
    rows.iter().take(30).enumerate().find_map(|(i, row)| {
        let names: Vec<String> = row.iter().map(|c| c.text().unwrap_or_default()).collect();
        let mut fields: Vec<Option<Field>> = names.iter().map(|n| mapping.recognise(n)).collect();
        // A field named twice: the first column wins; the second is left unread.
        for j in 0..fields.len() {
            if fields[..j].contains(&fields[j]) {
                fields[j] = None;
            }
        }
        let known = fields.iter().flatten().count();
        let key = fields.iter().flatten().any(|f| {
            matches!(
                f,
                Field::IdDtks | Field::Idbdt | Field::Kk | Field::Nik | Field::Name
            )
        });
        (known >= 3 && key).then_some(Header {
            row: i,
            names,
            fields,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_recognised_loosely() {
        let m = Mapping::default();
        assert_eq!(m.recognise("Hubungan dengan KRT/KK"), Some(Field::Relation));
        assert_eq!(m.recognise("  no. kk "), Some(Field::Kk));
        assert_eq!(m.recognise("ID_DTKS"), Some(Field::IdDtks));
        assert_eq!(m.recognise("TGL_LAHIR"), Some(Field::BirthDate));
        assert_eq!(m.recognise("Nama Ibu Kandung"), None);
        let mut m = Mapping::default();
        m.set("Nomor Induk", "nik").expect("valid");
        assert_eq!(m.recognise("NOMOR INDUK"), Some(Field::Nik));
        assert!(m.set("X", "shoe_size").is_err());
        m.set_pair("Tgl. Pendataan = ignore").expect("pair");
        assert_eq!(m.recognise("tgl pendataan"), None);
        assert!(m.set_pair("no equals sign").is_err());
    }

    /// `docs/registry.md` lists the headers as generated here: one source.
    #[test]
    fn registry_doc_lists_the_headers() {
        let doc =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/registry.md"))
                .unwrap_or_default();
        let table = names_markdown();
        assert!(
            doc.contains(&table),
            "docs/registry.md must contain the current header table; paste:\n{table}"
        );
    }

    /// BDT/DTKS and DTSEN (2025) headers are read without a mapping.
    #[test]
    fn registry_vocabulary() {
        let m = Mapping::default();
        for (header, field) in [
            ("JNS KEL", Field::Sex),
            ("HUB KRT", Field::Relation),
            ("IDARTBDT", Field::IdArt),
            ("nomor_kartu_keluarga", Field::Kk),
            ("nomor_induk_kependudukan", Field::Nik),
            ("nama", Field::Name),
            ("jenis_kelamin", Field::Sex),
            ("tanggal_lahir", Field::BirthDate),
            ("status_hubungan_keluarga", Field::Relation),
            ("kode_kelurahan_desa", Field::RegionCode),
            ("desil_nasional", Field::Desil),
            ("id_keluarga", Field::IdDtks),
        ] {
            assert_eq!(m.recognise(header), Some(field), "{header}");
        }
    }

    #[test]
    fn header_found_below_title_rows() {
        let t = |s: &str| Cell::Text(s.into());
        let rows = vec![
            vec![t("DATA TERPADU KESEJAHTERAAN SOSIAL")],
            vec![t("Kelurahan Purwantoro"), Cell::Empty, t("Periode 2026")],
            vec![],
            vec![t("No"), t("ID DTKS"), t("NIK"), t("Nama"), t("RW")],
        ];
        let h = find_header(&rows, &Mapping::default()).expect("header");
        assert_eq!(h.row, 3);
        assert_eq!(h.column(Field::Nik), Some(2));
        assert_eq!(h.unrecognised(&Mapping::default()), vec!["No".to_string()]);
    }
}
