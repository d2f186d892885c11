//! Binary `COPY … FROM STDIN` in large messages.
//!
//! The `postgres` crate's `BinaryCopyInWriter` enters its runtime once per
//! row and sends a message every 4 KiB: for the 200,000 users of a bulk
//! load, their memberships and the job's results, that was more than half
//! of the writing thread's CPU. [`CopyRows`] encodes the rows the same way
//! (each value through its [`ToSql`] impl, in PostgreSQL's binary copy
//! format) into a buffer of its own and hands the server a message per
//! [`CHUNK`] bytes.

use std::io::Write;

use bytes::{BufMut, BytesMut};
use postgres::types::{ToSql, Type};
use postgres::{Client, CopyInWriter};

use crate::{Error, Result};

/// How many bytes of rows go into one message.
const CHUNK: usize = 256 * 1024;

/// The binary copy format's header: signature, flags, extension length.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// One binary `COPY … FROM STDIN` under way.
pub(crate) struct CopyRows<'a> {
    writer: CopyInWriter<'a>,
    types: &'a [Type],
    buf: BytesMut,
}

impl<'a> CopyRows<'a> {
    /// Starts `sql` (a `COPY … FROM STDIN (FORMAT binary)`) whose columns
    /// have the types `types`.
    pub(crate) fn start(client: &'a mut Client, sql: &str, types: &'a [Type]) -> Result<Self> {
        let writer = client.copy_in(sql)?;
        let mut buf = BytesMut::with_capacity(CHUNK + CHUNK / 4);
        buf.put_slice(HEADER);
        Ok(CopyRows { writer, types, buf })
    }

    /// Adds one row: a value for each column, in order.
    pub(crate) fn write(&mut self, values: &[&(dyn ToSql + Sync)]) -> Result<()> {
        if values.len() != self.types.len() {
            return Err(Error::Unsupported(format!(
                "COPY of {} columns given a row of {} values",
                self.types.len(),
                values.len()
            )));
        }
        // ok: a row has far fewer than 32,767 columns.
        self.buf.put_i16(values.len() as i16);
        for (value, ty) in values.iter().zip(self.types) {
            let at = self.buf.len();
            self.buf.put_i32(0);
            let null = value
                .to_sql_checked(ty, &mut self.buf)
                .map_err(|e| Error::Unsupported(format!("COPY: a value of type {ty}: {e}")))?;
            let len = match null {
                postgres::types::IsNull::Yes => -1,
                postgres::types::IsNull::No => {
                    i32::try_from(self.buf.len() - at - 4).map_err(|_| {
                        Error::Unsupported(format!("COPY: a value of type {ty} over 2 GiB"))
                    })?
                }
            };
            self.buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
        }
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(())
    }

    /// Ends the copy; returns how many rows the server took.
    pub(crate) fn finish(mut self) -> Result<u64> {
        self.buf.put_i16(-1);
        self.send()?;
        Ok(self.writer.finish()?)
    }

    /// Hands the buffered rows to the server as one message.
    fn send(&mut self) -> Result<()> {
        let sent = self
            .writer
            .write_all(&self.buf)
            .and_then(|()| self.writer.flush());
        self.buf.clear();
        sent.map_err(postgres_error)
    }
}

/// The database's error inside an I/O error of the copy writer, so that
/// callers can tell a refused row (a unique violation) from the rest.
fn postgres_error(e: std::io::Error) -> Error {
    match e.downcast::<postgres::Error>() {
        Ok(pg) => Error::Postgres(pg),
        Err(e) => Error::Io(e),
    }
}
