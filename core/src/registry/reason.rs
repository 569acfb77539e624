//! Why a row of a registry file was rejected: one variant per case, each said in
//! Indonesian (the rejected-rows file's `alasan` column, the CLI and the app by default)
//! and English (`reason`, and `Display`). A reason names columns and row numbers, never
//! a NIK, a KK number or a name: it is shown on screens and printed on terminals.

use super::columns::Field;
use crate::nik::IdNumberError;
use crate::words::Lang;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// An id column holds a spreadsheet number: Excel keeps 15 significant digits.
    StoredAsNumber(Field),
    /// The column that groups rows into households is empty.
    NoHousehold(Field),
    /// A NIK or KK that is not one.
    BadNumber(Field, IdNumberError),
    /// A two-sheet file lists one household twice on its household sheet.
    HouseholdTwice {
        first_row: usize,
    },
    /// A member row whose household is not on the household sheet.
    NotOnHouseholdSheet,
    /// A row's RT/RW differs from the household's first row.
    AreaDiffers {
        first_row: usize,
        first: (u16, u16),
        this: (u16, u16),
    },
    NikTwiceInHousehold {
        row: usize,
    },
    NikInOtherHousehold {
        row: usize,
    },
    MemberTwice,
    /// The region code is not the kelurahan's (`bps`: its BPS code, when known).
    OtherRegion {
        code: Shown,
        kelurahan: String,
        bps: Option<String>,
    },
    Empty(Field),
    /// RT or RW that is not a number from 1 to 999.
    NotArea(Field, Shown),
    NotDesil(Shown),
    NotYesNo(Field, Shown),
    NotSex(Shown),
    BirthDateIsNumber,
    NotDate(Shown),
    /// `DD-MM-YYYY` as the file gave it.
    NotRealDate(String),
    Before1900(String),
    Future(String),
}

impl Reason {
    pub fn text(&self, lang: Lang) -> String {
        match lang {
            Lang::Id => self.indonesian(),
            Lang::En => self.english(),
        }
    }

    fn english(&self) -> String {
        match self {
            Reason::StoredAsNumber(f) => format!(
                "{} is stored as a number in the spreadsheet; its last digits cannot be trusted (format the column as text)",
                f.label()
            ),
            Reason::NoHousehold(f) => format!("{} is empty: the row belongs to no household", f.label()),
            Reason::BadNumber(f, e) => format!("{} {e}", f.label()),
            Reason::HouseholdTwice { first_row } => {
                format!("the household is already defined on row {first_row}")
            }
            Reason::NotOnHouseholdSheet => "its household is not on the household sheet".into(),
            Reason::AreaDiffers { first_row, first, this } => format!(
                "the household is in RT {:03}/RW {:03} on row {first_row}, this row says RT {:03}/RW {:03}",
                first.0, first.1, this.0, this.1
            ),
            Reason::NikTwiceInHousehold { row } => {
                format!("the NIK appears twice in the household (row {row})")
            }
            Reason::NikInOtherHousehold { row } => {
                format!("the NIK already belongs to another household (row {row})")
            }
            Reason::MemberTwice => "the same member appears twice in the household".into(),
            Reason::OtherRegion { code, kelurahan, bps: Some(bps) } => format!(
                "row belongs to region {}, which is neither kelurahan {kelurahan} nor its BPS code {bps}",
                code.bare(Lang::En)
            ),
            Reason::OtherRegion { code, kelurahan, bps: None } => format!(
                "row belongs to region {c}, not to kelurahan {kelurahan} (its BPS code is not known yet: if {c} is it, import with --bps {c})",
                c = code.bare(Lang::En)
            ),
            Reason::Empty(f) => format!("{} is empty", f.label()),
            Reason::NotArea(f, v) => format!("{} {} is not a number from 1 to 999", f.label(), v.text(Lang::En)),
            Reason::NotDesil(v) => format!("desil {} is not a number from 1 to 10", v.text(Lang::En)),
            Reason::NotYesNo(f, v) => format!("{} {} is neither Ya nor Tidak", f.label(), v.text(Lang::En)),
            Reason::NotSex(v) => {
                format!("Jenis Kelamin {} is neither L (laki-laki) nor P (perempuan)", v.text(Lang::En))
            }
            Reason::BirthDateIsNumber => "Tanggal Lahir is a plain number, not a date".into(),
            Reason::NotDate(v) => {
                format!("Tanggal Lahir {} is not a date (YYYY-MM-DD or DD-MM-YYYY)", v.text(Lang::En))
            }
            Reason::NotRealDate(d) => format!("Tanggal Lahir {d} is not a real date"),
            Reason::Before1900(d) => format!("Tanggal Lahir {d} is before 1900"),
            Reason::Future(d) => format!("Tanggal Lahir {d} is in the future"),
        }
    }

    fn indonesian(&self) -> String {
        match self {
            Reason::StoredAsNumber(f) => format!(
                "{} tersimpan sebagai angka di spreadsheet; angka terakhirnya tidak bisa dipercaya (format kolomnya sebagai teks)",
                f.label()
            ),
            Reason::NoHousehold(f) => {
                format!("{} kosong: baris ini tidak termasuk rumah tangga mana pun", f.label())
            }
            Reason::BadNumber(f, e) => format!("{} {}", f.label(), e.text(Lang::Id)),
            Reason::HouseholdTwice { first_row } => {
                format!("rumah tangga ini sudah ada di baris {first_row}")
            }
            Reason::NotOnHouseholdSheet => "rumah tangganya tidak ada di lembar rumah tangga".into(),
            Reason::AreaDiffers { first_row, first, this } => format!(
                "rumah tangga ini di RT {:03}/RW {:03} pada baris {first_row}, baris ini menyebut RT {:03}/RW {:03}",
                first.0, first.1, this.0, this.1
            ),
            Reason::NikTwiceInHousehold { row } => {
                format!("NIK ini muncul dua kali dalam rumah tangga (baris {row})")
            }
            Reason::NikInOtherHousehold { row } => {
                format!("NIK ini sudah milik rumah tangga lain (baris {row})")
            }
            Reason::MemberTwice => "anggota yang sama muncul dua kali dalam rumah tangga".into(),
            Reason::OtherRegion { code, kelurahan, bps: Some(bps) } => format!(
                "baris ini milik wilayah {}, bukan kelurahan {kelurahan} maupun kode BPS-nya {bps}",
                code.bare(Lang::Id)
            ),
            Reason::OtherRegion { code, kelurahan, bps: None } => format!(
                "baris ini milik wilayah {c}, bukan kelurahan {kelurahan} (kode BPS-nya belum diketahui: jika {c} kodenya, impor dengan --bps {c})",
                c = code.bare(Lang::Id)
            ),
            Reason::Empty(f) => format!("{} kosong", f.label()),
            Reason::NotArea(f, v) => format!("{} {} bukan angka 1 sampai 999", f.label(), v.text(Lang::Id)),
            Reason::NotDesil(v) => format!("desil {} bukan angka 1 sampai 10", v.text(Lang::Id)),
            Reason::NotYesNo(f, v) => format!("{} {} bukan Ya atau Tidak", f.label(), v.text(Lang::Id)),
            Reason::NotSex(v) => {
                format!("Jenis Kelamin {} bukan L (laki-laki) atau P (perempuan)", v.text(Lang::Id))
            }
            Reason::BirthDateIsNumber => "Tanggal Lahir berupa angka biasa, bukan tanggal".into(),
            Reason::NotDate(v) => {
                format!("Tanggal Lahir {} bukan tanggal (YYYY-MM-DD atau DD-MM-YYYY)", v.text(Lang::Id))
            }
            Reason::NotRealDate(d) => format!("Tanggal Lahir {d} bukan tanggal yang ada"),
            Reason::Before1900(d) => format!("Tanggal Lahir {d} sebelum tahun 1900"),
            Reason::Future(d) => format!("Tanggal Lahir {d} ada di masa depan"),
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.english())
    }
}

/// A cell's text as a reason may show it: a value that could be a NIK, a KK number or a
/// name (more than 10 digits, more than 3 letters, or longer than 12 characters) is not
/// shown, only its length. What the checked columns hold when wrong is short: `X`,
/// `11`, `abc`, `31-02-1980`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown(Result<String, usize>);

impl Shown {
    pub fn new(v: &str) -> Shown {
        let digits = v.chars().filter(char::is_ascii_digit).count();
        let letters = v.chars().filter(|c| c.is_alphabetic()).count();
        let len = v.chars().count();
        Shown(if digits <= 10 && letters <= 3 && len <= 12 {
            Ok(v.to_string())
        } else {
            Err(len)
        })
    }

    /// `` `v` ``, or the value's length when it is not shown.
    pub fn text(&self, lang: Lang) -> String {
        match &self.0 {
            Ok(v) => format!("`{v}`"),
            Err(_) => self.bare(lang),
        }
    }

    /// The value without quotes (a code to type again), or its length.
    pub fn bare(&self, lang: Lang) -> String {
        match (&self.0, lang) {
            (Ok(v), _) => v.clone(),
            (Err(n), Lang::Id) => format!("(isian {n} karakter)"),
            (Err(n), Lang::En) => format!("(a value of {n} characters)"),
        }
    }
}
