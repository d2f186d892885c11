//! Fix in place, through the library (`userimport::fix`): one cell of an
//! uploaded file changed in the page, the corrected file (in the upload's
//! own charset and delimiter) checked again as a new import; and the
//! upload as a download, its plaintext passwords left out.

use std::path::Path;

use userimport::fix::{self, CellEdit, Fixed};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, blocking};
use crate::imports;
use crate::upload;

/// Writes the corrected file of import `id` with the cell at physical
/// `line` under `column` (a profile column key) set to `value`, checks it,
/// and returns the new import's ID.
pub async fn fix_cell(
    state: &AppState,
    caller: &Caller,
    id: &str,
    line: u64,
    column: &str,
    value: &str,
) -> Result<String, ApiError> {
    let import = imports::get(state, caller, id).await?;
    let new_id = upload::new_id()?;
    let target = upload::path_of(&state.config().upload_dir, &new_id);
    let offered = state.config().profiles.clone();
    let (settings, source) = (import.settings.clone(), import.path.clone());
    let edit = CellEdit::new(line, column, value);
    let out = target.clone();
    let written = blocking(move || rewrite(&settings, &offered, &source, &out, &edit)).await;
    let fixed = match written {
        Ok(fixed) => fixed,
        Err(e) => {
            let _ = std::fs::remove_file(&target);
            return Err(e);
        }
    };
    let mut settings = import.settings.clone();
    settings.charset = fixed.charset.to_string();
    settings.delimiter = delimiter_setting(fixed.delimiter);
    settings.header_row = None;
    let fixed = imports::check(state, caller, new_id, import.name.clone(), settings).await?;
    Ok(fixed.id)
}

fn rewrite(
    settings: &crate::Settings,
    offered: &[userimport::schema::Profile],
    source: &Path,
    target: &Path,
    edit: &CellEdit,
) -> Result<Fixed, ApiError> {
    let importer = settings.importer(offered)?;
    let input = std::fs::File::open(source)?;
    let out = std::io::BufWriter::new(upload::private_file().open(target)?);
    let (out, fixed) = fix::edit_cell(&importer, input, edit, out)?;
    out.into_inner()
        .map_err(|e| ApiError::internal(e.to_string()))?
        .sync_all()?;
    Ok(fixed)
}

/// The delimiter as the settings spell it (`auto` for one they do not name).
fn delimiter_setting(delimiter: u8) -> String {
    let name = userimport::delimiter_name(delimiter);
    match userimport::parse_delimiter(&name) {
        Ok(Some(_)) => name,
        _ => "auto".into(),
    }
}

/// The uploaded file at `source`, read with `settings`, as a UTF-8 CSV
/// download (header first, formula-safe, plaintext passwords blank).
pub fn masked_copy(
    settings: &crate::Settings,
    offered: &[userimport::schema::Profile],
    source: &Path,
) -> Result<Vec<u8>, ApiError> {
    let importer = settings.importer(offered)?;
    let input = std::fs::File::open(source)?;
    Ok(fix::masked_copy(&importer, input, Vec::new())?)
}
