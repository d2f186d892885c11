//! `userimport outbox`: the queued invitation e-mails — list them, deliver
//! those due over SMTP.

use std::io::Write;

use userimport::sink::{Sink, deliver, smtp_sender};

use crate::common::StoreArgs;
use crate::{Failure, store};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
    #[command(flatten)]
    store: StoreArgs,
    /// Output format: text or json.
    #[arg(long, default_value = "text")]
    format: String,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Send the messages that are due: each is marked sent once the server
    /// accepts it and never sent again; refusals are retried later with a
    /// backoff. Exit code 1 when some message was refused (see the list).
    Deliver {
        /// The SMTP server: smtp://HOST:PORT (plain, for a local relay),
        /// smtp://USER:PASS@HOST:PORT?tls=starttls, or
        /// smtps://USER:PASS@HOST:PORT (TLS); ?ca=FILE.pem trusts a private
        /// CA. Messages show the password as ***.
        #[arg(long, env = "USERIMPORT_SMTP")]
        smtp: String,
        /// The sender address.
        #[arg(long, default_value = "no-reply@localhost")]
        from: String,
    },
}

pub fn run(args: Args) -> Result<u8, Failure> {
    match args.action {
        Some(Action::Deliver { smtp, from }) => {
            let mut sink = store::open_write(&args.store.db)?;
            let mut send = smtp_sender(&smtp)?;
            let report = deliver(&mut sink, &from, &mut send)?;
            println!(
                "{} sent, {} to retry later, {} failed",
                report.sent, report.retried, report.failed
            );
            Ok(u8::from(report.failed > 0 || report.retried > 0))
        }
        None => {
            let sink = store::open_read(&args.store.db)?;
            let messages = sink.outbox()?;
            let mut out = std::io::stdout().lock();
            match args.format.as_str() {
                "json" => writeln!(out, "{}", serde_json::to_string_pretty(&messages)?)?,
                "text" => {
                    if messages.is_empty() {
                        writeln!(out, "the outbox is empty")?;
                    }
                    for m in &messages {
                        writeln!(
                            out,
                            "{} {} to {} (member {}) due {}, {} attempt(s){}",
                            m.id,
                            m.status.as_str(),
                            m.recipient.email,
                            m.user_id,
                            m.send_at,
                            m.attempts,
                            m.last_error
                                .as_deref()
                                .map(|e| format!(": {e}"))
                                .unwrap_or_default()
                        )?;
                    }
                }
                other => {
                    return Err(Failure(format!(
                        "unknown format {other:?}: use text or json"
                    )));
                }
            }
            out.flush()?;
            Ok(0)
        }
    }
}
