//! The rejected rows of an import, written beside the input for the operator to fix:
//! `data.xlsx.rejected.csv` and `data.xlsx.rejected.xlsx`. Each row keeps the file's
//! original cells, after the sheet and row it came from, and gains `alasan` (the reason
//! in Indonesian) and `reason` (English, the last column).
//!
//! Both files are made to survive Excel, which turns a 16-digit NIK typed as a number
//! into 15 significant digits:
//! - in the XLSX every cell is a text cell;
//! - in the CSV a cell of 12 digits or more (Excel shows those as `3.57E+15` and saves
//!   them so), or of digits with a leading zero, is written `="3573…"`: Excel shows
//!   the formula's text result and keeps every digit.
//!   Jemput's own reader takes `="…"` as the text inside, so the file imports again.
//!   A cell that would start a formula (`=`, `+`, `-`, `@`) gets a leading `'`, so a
//!   hostile cell in a registry file cannot run in the operator's spreadsheet.

use std::path::{Path, PathBuf};

use super::{Parsed, RegistryError};
use crate::words::Lang;

/// Where the rejected rows were written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedFiles {
    pub csv: PathBuf,
    pub xlsx: PathBuf,
}

/// `data.xlsx` → `data.xlsx.rejected.csv` and `data.xlsx.rejected.xlsx`.
pub fn rejected_paths(input: &Path) -> RejectedFiles {
    let beside = |ext: &str| {
        let mut name = input.file_name().unwrap_or_default().to_os_string();
        name.push(ext);
        input.with_file_name(name)
    };
    RejectedFiles {
        csv: beside(".rejected.csv"),
        xlsx: beside(".rejected.xlsx"),
    }
}

/// The rows of the rejects files, one block per sheet with rejections: its header,
/// then its rejected rows.
fn blocks(parsed: &Parsed) -> Vec<(String, Vec<Vec<String>>)> {
    let two_sheets = parsed.headers.len() > 1;
    parsed
        .headers
        .iter()
        .map(|(sheet, header)| {
            let mut head: Vec<String> = Vec::new();
            if two_sheets {
                head.push("sheet".into());
            }
            head.push("row".into());
            head.extend(header.iter().cloned());
            head.extend(["alasan".into(), "reason".into()]);
            let mut rows = vec![head];
            for r in parsed.rejected.iter().filter(|r| &r.sheet == sheet) {
                let mut rec: Vec<String> = Vec::new();
                if two_sheets {
                    rec.push(r.sheet.clone());
                }
                rec.push(r.row.to_string());
                let mut cells = r.cells.clone();
                cells.resize(header.len().max(cells.len()), String::new());
                rec.extend(cells);
                rec.push(r.reason.text(Lang::Id));
                rec.push(r.reason.text(Lang::En));
                rows.push(rec);
            }
            (sheet.clone(), rows)
        })
        .collect()
}

/// Writes the rejected rows beside the input, each file whole then renamed (a crash
/// never leaves half a file). Returns `None` when no row was rejected, and removes
/// stale files of an earlier import.
pub fn write_rejected(
    input: &Path,
    parsed: &Parsed,
) -> Result<Option<RejectedFiles>, RegistryError> {
    let paths = rejected_paths(input);
    if parsed.rejected.is_empty() {
        for p in [&paths.csv, &paths.xlsx] {
            if p.exists() {
                std::fs::remove_file(p)
                    .map_err(|e| RegistryError::Io(format!("{}: {e}", p.display())))?;
            }
        }
        return Ok(None);
    }
    let blocks = blocks(parsed);
    write_csv(&paths.csv, &blocks)?;
    write_xlsx(&paths.xlsx, &blocks)?;
    Ok(Some(paths))
}

/// UTF-8 with BOM, so spreadsheet programs read it as UTF-8.
fn write_csv(path: &Path, blocks: &[(String, Vec<Vec<String>>)]) -> Result<(), RegistryError> {
    let err = |e: &dyn std::fmt::Display| RegistryError::Io(format!("{}: {e}", path.display()));
    let mut out = Vec::from(&b"\xEF\xBB\xBF"[..]);
    {
        let mut w = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(&mut out);
        for (_, rows) in blocks {
            for row in rows {
                let safe: Vec<String> = row.iter().map(|c| excel_safe(c)).collect();
                w.write_record(&safe).map_err(|e| err(&e))?;
            }
        }
        w.flush().map_err(|e| err(&e))?;
    }
    let tmp = path.with_extension("csv.tmp");
    std::fs::write(&tmp, &out).map_err(|e| err(&e))?;
    std::fs::rename(&tmp, path).map_err(|e| err(&e))
}

/// One worksheet per sheet with rejections, every cell text.
fn write_xlsx(path: &Path, blocks: &[(String, Vec<Vec<String>>)]) -> Result<(), RegistryError> {
    use rust_xlsxwriter::{Format, Workbook};
    let x = |e: rust_xlsxwriter::XlsxError| RegistryError::Io(format!("{}: {e}", path.display()));
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let text = Format::new().set_num_format("@");
    let mut names: Vec<String> = Vec::new();
    for (sheet, rows) in blocks {
        let ws = wb.add_worksheet();
        ws.set_name(worksheet_name(sheet, &names)).map_err(x)?;
        names.push(ws.name());
        for (r, row) in rows.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                let f = if r == 0 { &bold } else { &text };
                ws.write_string_with_format(r as u32, c as u16, v, f)
                    .map_err(x)?;
            }
        }
        ws.set_freeze_panes(1, 0).map_err(x)?;
        ws.autofit();
    }
    let tmp = path.with_extension("xlsx.tmp");
    wb.save(&tmp).map_err(x)?;
    std::fs::rename(&tmp, path).map_err(|e| RegistryError::Io(format!("{}: {e}", path.display())))
}

/// A worksheet name Excel accepts (at most 31 characters, none of `[]:*?/\`, no `'`
/// at either end), unique in the workbook.
fn worksheet_name(sheet: &str, taken: &[String]) -> String {
    let clean: String = sheet
        .chars()
        .filter(|c| !"[]:*?/\\".contains(*c))
        .take(28)
        .collect();
    let clean = clean.trim_matches('\'');
    let base = if clean.trim().is_empty() {
        "Ditolak".to_string()
    } else {
        clean.to_string()
    };
    let mut name = base.clone();
    let mut n = 2;
    while taken.iter().any(|t| t.eq_ignore_ascii_case(&name)) {
        name = format!("{base} {n}");
        n += 1;
    }
    name
}

/// A CSV cell as Excel will keep it: see the module's notes.
pub fn excel_safe(cell: &str) -> String {
    let digits = !cell.is_empty() && cell.bytes().all(|b| b.is_ascii_digit());
    if digits && (cell.len() >= 12 || (cell.len() > 1 && cell.starts_with('0'))) {
        return format!("=\"{cell}\"");
    }
    let formula = cell.len() > 1
        && cell.starts_with(['=', '+', '-', '@', '\t', '\r'])
        && cell.trim().parse::<f64>().is_err();
    if formula {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

/// `="3573…"` → `3573…`: the Excel-safe form of a text cell, as [`excel_safe`] writes
/// it, read back as its text.
pub fn unwrap_excel_text(cell: &str) -> &str {
    cell.strip_prefix("=\"")
        .and_then(|c| c.strip_suffix('"'))
        .filter(|inner| !inner.contains('"'))
        .unwrap_or(cell)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excel_safe_cells() {
        assert_eq!(excel_safe("3573011205800001"), "=\"3573011205800001\"");
        assert_eq!(excel_safe("003"), "=\"003\"");
        assert_eq!(excel_safe("3"), "3");
        assert_eq!(excel_safe("Siti Aminah"), "Siti Aminah");
        assert_eq!(
            excel_safe("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(excel_safe("-"), "-");
        assert_eq!(excel_safe("-5"), "-5");
        assert_eq!(excel_safe("3.57301E+15"), "3.57301E+15");
        for c in ["3573011205800001", "003", "Siti", "=SUM(A1)"] {
            let back = unwrap_excel_text(&excel_safe(c)).to_string();
            if c.starts_with('=') {
                assert_eq!(back, format!("'{c}"));
            } else {
                assert_eq!(back, c);
            }
        }
        assert_eq!(worksheet_name("a/b", &[]), "ab");
        assert_eq!(worksheet_name("'Data'", &[]), "Data");
        assert_eq!(excel_safe("357301120580"), "=\"357301120580\"");
        assert_eq!(excel_safe("35730112058"), "35730112058");
        assert_eq!(worksheet_name("Sheet1", &["sheet1".into()]), "Sheet1 2");
    }
}
