//! Reading the files offices really have into plain rows of cells: CSV (comma,
//! semicolon or tab; UTF-8 with or without BOM, or Windows-1252) and workbooks (XLSX,
//! XLS, ODS) through calamine. A cell keeps whether the spreadsheet stored it as text,
//! a number or a date: a NIK in a numeric cell has lost its last digit.

use std::path::Path;

use super::RegistryError;

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
    /// A cell the workbook formats as a date.
    Date(i32, u8, u8),
    /// A boolean or error cell, as the spreadsheet shows it.
    Other(String),
}

impl Cell {
    /// The cell as a person would read it in the spreadsheet, for the rejected-rows file.
    pub fn original(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) | Cell::Other(s) => s.clone(),
            Cell::Number(f) => number_text(*f),
            Cell::Date(y, m, d) => format!("{y:04}-{m:02}-{d:02}"),
        }
    }

    /// Trimmed text; `None` for an empty or blank cell.
    pub fn text(&self) -> Option<String> {
        let s = self.original();
        let t = s.trim();
        (!t.is_empty()).then(|| t.to_string())
    }
}

/// Integers without a fraction, as spreadsheets display them (`3573010007`, not
/// `3573010007.0`).
pub fn number_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e17 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

#[derive(Debug, Clone)]
pub struct Sheet {
    pub name: String,
    pub rows: Vec<Vec<Cell>>,
}

/// Every sheet of the file (a CSV file is one sheet named after the file).
pub fn read_file(path: &Path) -> Result<Vec<Sheet>, RegistryError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "csv" | "txt" | "tsv" => {
            let bytes = std::fs::read(path).map_err(|e| RegistryError::Io(e.to_string()))?;
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("csv")
                .to_string();
            Ok(vec![read_csv(&bytes, &name)?])
        }
        "xlsx" | "xlsm" | "xls" | "xlsb" | "ods" => read_workbook(path),
        _ => Err(RegistryError::Unreadable(format!(
            "`{}` is not a CSV, XLSX, XLS or ODS file",
            path.display()
        ))),
    }
}

/// Decodes UTF-8 (BOM or not) or, failing that, Windows-1252, the encoding Excel on
/// Indonesian Windows writes "CSV" in.
pub fn decode_text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .into_owned(),
    }
}

/// The separator used most in the first lines outside quotes: `;` where Excel's list
/// separator is the comma of a decimal comma locale, `,` elsewhere.
fn guess_delimiter(text: &str) -> u8 {
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for line in text.lines().take(30) {
        for b in line.bytes() {
            if b == b'"' {
                quoted = !quoted;
            } else if !quoted {
                for c in counts.iter_mut() {
                    if c.0 == b {
                        c.1 += 1;
                    }
                }
            }
        }
    }
    counts
        .iter()
        .max_by_key(|c| c.1)
        .map_or(b',', |c| if c.1 == 0 { b',' } else { c.0 })
}

pub fn read_csv(bytes: &[u8], name: &str) -> Result<Sheet, RegistryError> {
    let text = decode_text(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(guess_delimiter(&text))
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {
                // Blank lines stay as empty rows, so row numbers match the file's lines.
                let line = record.position().map_or(0, |p| p.line()) as usize;
                while rows.len() + 1 < line {
                    rows.push(Vec::new());
                }
                rows.push(
                    record
                        .iter()
                        .map(|c| {
                            if c.is_empty() {
                                Cell::Empty
                            } else {
                                Cell::Text(super::rejects::unwrap_excel_text(c).to_string())
                            }
                        })
                        .collect(),
                );
            }
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(RegistryError::Unreadable(format!(
                    "CSV is broken near line {line}: {}",
                    csv_problem(&e)
                )));
            }
        }
    }
    Ok(Sheet {
        name: name.to_string(),
        rows,
    })
}

/// What went wrong in a CSV record, without echoing its contents.
fn csv_problem(e: &csv::Error) -> &'static str {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "text is not valid UTF-8",
        csv::ErrorKind::UnequalLengths { .. } => "rows of unequal length",
        _ => "unreadable record",
    }
}

fn read_workbook(path: &Path) -> Result<Vec<Sheet>, RegistryError> {
    let bytes = std::fs::read(path).map_err(|e| RegistryError::Io(e.to_string()))?;
    read_workbook_bytes(&bytes).map_err(|e| match e {
        RegistryError::Unreadable(why) => {
            RegistryError::Unreadable(format!("`{}`: {why}", path.display()))
        }
        other => other,
    })
}

/// Every sheet of a workbook (XLSX, XLS, XLSB or ODS) given as bytes: what the import
/// reads, and what the fuzz targets feed.
pub fn read_workbook_bytes(bytes: &[u8]) -> Result<Vec<Sheet>, RegistryError> {
    // calamine can panic on hostile bytes (the fuzzer found an overflow on a huge cell
    // reference, `fuzz/crashes/registry_workbook/`): a damaged file is an error, never
    // a crash of the import.
    std::panic::catch_unwind(|| read_workbook_unguarded(bytes)).unwrap_or_else(|_| {
        Err(RegistryError::Unreadable(
            "the workbook is damaged (the reader gave up on it)".into(),
        ))
    })
}

fn read_workbook_unguarded(bytes: &[u8]) -> Result<Vec<Sheet>, RegistryError> {
    use calamine::{Data, Reader};
    let mut wb = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes))
        .map_err(|e| RegistryError::Unreadable(format!("not a readable workbook: {e}")))?;
    let mut out = Vec::new();
    for name in wb.sheet_names() {
        let range = wb
            .worksheet_range(&name)
            .map_err(|e| RegistryError::Unreadable(format!("sheet `{name}`: {e}")))?;
        // Rows are counted from the sheet's first row, so row numbers match Excel's.
        let (first_row, first_col) = range.start().unwrap_or((0, 0));
        let mut rows: Vec<Vec<Cell>> = vec![Vec::new(); first_row as usize];
        for row in range.rows() {
            let mut cells = vec![Cell::Empty; first_col as usize];
            cells.extend(row.iter().map(|d| match d {
                Data::Empty => Cell::Empty,
                Data::String(s) if s.is_empty() => Cell::Empty,
                Data::String(s) => Cell::Text(s.clone()),
                Data::Int(i) => Cell::Number(*i as f64),
                Data::Float(f) => Cell::Number(*f),
                Data::Bool(b) => Cell::Other(if *b { "TRUE" } else { "FALSE" }.into()),
                Data::DateTime(dt) => {
                    let (y, m, d, ..) = dt.to_ymd_hms_milli();
                    Cell::Date(i32::from(y), m, d)
                }
                Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
                Data::Error(e) => Cell::Other(format!("#{e:?}")),
            }));
            rows.push(cells);
        }
        out.push(Sheet { name, rows });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_encodings_and_separators() {
        let utf8 = "\u{feff}Nama;NIK\nSiti Aminah;3573014101900001\n";
        let s = read_csv(utf8.as_bytes(), "a").expect("csv");
        assert_eq!(s.rows[1][0], Cell::Text("Siti Aminah".into()));
        // Windows-1252: "Sé" is 0x53 0xE9
        let cp = b"Nama,Alamat\nS\xe9no,Jl. Mawar\n";
        let s = read_csv(cp, "b").expect("csv");
        assert_eq!(s.rows[1][0], Cell::Text("S\u{e9}no".into()));
        assert_eq!(s.rows[1][1], Cell::Text("Jl. Mawar".into()));
        let quoted = "Nama,Alamat\n\"Budi\",\"Jl. A; No. 3, RT 1\"\n";
        let s = read_csv(quoted.as_bytes(), "c").expect("csv");
        assert_eq!(s.rows[1][1], Cell::Text("Jl. A; No. 3, RT 1".into()));
    }

    #[test]
    fn numbers_shown_as_the_spreadsheet_shows_them() {
        assert_eq!(number_text(3573010007.0), "3573010007");
        assert_eq!(number_text(3.5730141019e15), "3573014101900000");
        assert_eq!(number_text(2.5), "2.5");
    }
}
