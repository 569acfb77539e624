//! The office moves a household to another RW/RT of its kelurahan. Areas are not
//! CRDTs: the server owns household → area, writes the move into the document too (so
//! its history shows it), then places the household in its new area.

use jemput_core::household::{Author, Household};
use jemput_core::registry::export::ExportRow;

use super::store::StoreTx;
use crate::error::StorageError;

/// Moves `id` to RW `rw`, RT `rt`, written by `by` at `now_ms`; `false` when there is
/// no such household.
pub fn move_household(
    tx: &dyn StoreTx,
    id: &str,
    (rw, rt): (u16, u16),
    by: &Author,
    now_ms: i64,
) -> Result<bool, StorageError> {
    let Some(stored) = tx.household(id)? else {
        return Ok(false);
    };
    let internal = |e: jemput_core::HouseholdError| StorageError::Internal(e.to_string());
    let mut hh = Household::load_as(&stored.doc, by).map_err(internal)?;
    let before = hh.heads();
    hh.set_area(rw, rt, now_ms).map_err(internal)?;
    let changes = hh.doc_mut().get_changes(&before);
    tx.name_author(&by.actor, &by.user)?;
    tx.note_actors((id, &stored.kelurahan), &[&by.actor])?;
    // Changes first, then the placement: devices of the new area get a snapshot that
    // already holds the move.
    tx.append_changes((id, &stored.kelurahan), &changes, None)?;
    tx.place_moved(
        id,
        (&stored.kelurahan, stored.rw),
        (rw, rt),
        &hh.save_nocompress(),
        &hh.heads(),
    )?;
    let row = ExportRow::of(&hh, super::indicator_set());
    let (kelurahan, _, _) = hh.area();
    tx.export_row(&row, &kelurahan, super::now_ms())?;
    Ok(true)
}
