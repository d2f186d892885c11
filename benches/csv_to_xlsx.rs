//! Converts a CSV user file into an .xlsx workbook as Excel would save it
//! after an edit (every cell a shared-string text cell, the header bold), for
//! `benches/xlsx_check.sh`:
//!
//! ```sh
//! cargo run --release --example csv_to_xlsx -- bench-data/users.csv bench-data/users.xlsx
//! ```

use rust_xlsxwriter::{Format, Workbook};
use userimport::parse::{ReaderBuilder, Record};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        return Err("usage: csv_to_xlsx IN.csv OUT.xlsx".into());
    };
    let mut reader = ReaderBuilder::new().build(std::fs::File::open(&input)?)?;
    let mut book = Workbook::new();
    let text = Format::new().set_num_format("@");
    let bold = Format::new().set_bold().set_num_format("@");
    let sheet = book.add_worksheet_with_low_memory();
    sheet.set_name("Users")?;
    for (col, cell) in reader.header().iter().enumerate() {
        sheet.write_string_with_format(0, u16::try_from(col)?, cell, &bold)?;
    }
    let mut record = Record::new();
    let mut row = 0u32;
    while reader.read_record(&mut record)? {
        row += 1;
        for (col, cell) in record.iter().enumerate() {
            if !cell.is_empty() {
                sheet.write_string_with_format(row, u16::try_from(col)?, cell, &text)?;
            }
        }
    }
    book.save(&output)?;
    eprintln!("{row} rows written to {output}");
    Ok(())
}
