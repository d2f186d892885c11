//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::io::Read;

use userimport_parse::{Reader, ReaderBuilder, Record, Result};

/// A reader that returns at most `size` bytes per `read`.
pub struct Chunked<'a> {
    data: &'a [u8],
    size: usize,
}

impl<'a> Chunked<'a> {
    pub fn new(data: &'a [u8], size: usize) -> Self {
        Chunked { data, size }
    }
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.size.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// The chunkings every case runs through.
pub const CHUNKS: [usize; 3] = [1, 7, 64 * 1024];

/// What reading a file gave.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed {
    pub encoding: &'static str,
    pub delimiter: u8,
    pub header: Record,
    pub records: Vec<Record>,
}

/// Reads everything (header and records) with `builder` in `size`-byte reads.
pub fn parse(builder: &ReaderBuilder, data: &[u8], size: usize) -> Result<Parsed> {
    let reader: Reader<_> = builder.build(Chunked::new(data, size))?;
    let encoding = reader.encoding().name();
    let delimiter = reader.delimiter();
    let header = reader.header().clone();
    let records = reader.collect::<Result<Vec<_>>>()?;
    Ok(Parsed {
        encoding,
        delimiter,
        header,
        records,
    })
}
