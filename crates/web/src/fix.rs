//! Fix in place: one cell of an uploaded file changed in the page, the
//! corrected file (UTF-8, header on line 1, formula-safe) checked again as
//! a new import.

use userimport::OutputCharset;
use userimport::parse::{ColumnMapping, Record};

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
    let (column, value, out) = (column.to_string(), value.to_string(), target.clone());
    let written =
        blocking(move || rewrite(&settings, &offered, &source, &out, line, &column, &value)).await;
    if let Err(e) = written {
        let _ = std::fs::remove_file(&target);
        return Err(e);
    }
    let mut settings = import.settings.clone();
    settings.charset = "utf-8".into();
    settings.delimiter = ",".into();
    settings.header_row = None;
    let fixed = imports::check(state, caller, new_id, import.name.clone(), settings).await?;
    Ok(fixed.id)
}

fn rewrite(
    settings: &crate::Settings,
    offered: &[userimport::schema::Profile],
    source: &std::path::Path,
    target: &std::path::Path,
    line: u64,
    column: &str,
    value: &str,
) -> Result<(), ApiError> {
    let file = create_private(target)?;
    let edit = Edit {
        line,
        column,
        value,
    };
    let out = copy(
        settings,
        offered,
        source,
        std::io::BufWriter::new(file),
        Some(&edit),
        false,
    )?;
    out.into_inner()
        .map_err(|e| ApiError::internal(e.to_string()))?
        .sync_all()?;
    Ok(())
}

/// One cell to change.
pub struct Edit<'a> {
    /// The record's physical line.
    pub line: u64,
    /// The profile column key.
    pub column: &'a str,
    /// The new value.
    pub value: &'a str,
}

/// Copies the file at `source` as read with `settings` to `out` (UTF-8
/// with BOM, header first, formula-safe), with `edit` applied and, when
/// `mask`, plaintext password cells left blank.
pub fn copy<W: std::io::Write>(
    settings: &crate::Settings,
    offered: &[userimport::schema::Profile],
    source: &std::path::Path,
    out: W,
    edit: Option<&Edit<'_>>,
    mask: bool,
) -> Result<W, ApiError> {
    let importer = settings.importer(offered)?;
    let profile = importer.profile();
    let mut reader = importer.reader(std::fs::File::open(source)?)?;
    let header = reader.header().clone();
    let mapping = ColumnMapping::new(profile, &header, &importer.options().maps, false)
        .map_err(|e| ApiError::file(e.to_string()))?;
    let index_of = |column: &str| profile.column_index(column).and_then(|c| mapping.index(c));
    let target = match edit {
        Some(e) => Some((
            e.line,
            index_of(e.column).ok_or_else(|| {
                ApiError::bad_request(format!("the file has no column {:?}", e.column))
            })?,
            e.value,
        )),
        None => None,
    };
    let masked: Vec<usize> = if mask {
        profile
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| matches!(c.kind, userimport::schema::FieldKind::Password { .. }))
            .filter_map(|(i, _)| mapping.index(i))
            .collect()
    } else {
        Vec::new()
    };
    let mut writer = userimport::CsvWriter::new(out, OutputCharset::UTF8_BOM)?;
    writer.write_row(header.iter())?;
    let mut record = Record::new();
    let mut found = false;
    while reader
        .read_record(&mut record)
        .map_err(|e| ApiError::file(e.to_string()))?
    {
        let mut cells: Vec<String> = record.iter().map(str::to_string).collect();
        if let Some((line, index, value)) = target
            && record.line() == line
        {
            found = true;
            if cells.len() <= index {
                cells.resize(index + 1, String::new());
            }
            cells[index] = value.to_string();
        }
        for &i in &masked {
            if let Some(cell) = cells.get_mut(i) {
                cell.clear();
            }
        }
        writer.write_row(cells.iter())?;
    }
    if let Some((line, _, _)) = target
        && !found
    {
        return Err(ApiError::bad_request(format!(
            "the file has no record on line {line}"
        )));
    }
    Ok(writer.finish()?)
}

fn create_private(path: &std::path::Path) -> Result<std::fs::File, ApiError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    Ok(options.open(path)?)
}
