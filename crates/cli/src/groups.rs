//! `userimport groups`: the groups that imports refer to.

use userimport::plan::Directory;
use userimport::sink::Sink;

use crate::common::StoreArgs;
use crate::{Failure, store};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// List the groups (the default).
    List,
    /// Create groups.
    Add {
        /// Group names.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove groups and their memberships.
    Remove {
        /// Group names.
        #[arg(required = true)]
        names: Vec<String>,
    },
}

pub fn run(args: Args) -> Result<u8, Failure> {
    match args.action.unwrap_or(Action::List) {
        Action::List => {
            let store = store::open_read(&args.store.db)?;
            for group in store.groups()? {
                println!("{group}");
            }
        }
        Action::Add { names } => {
            let mut store = store::open_write(&args.store.db)?;
            let added = store.add_groups(&names)?;
            println!(
                "{added} group(s) added, {} already existed",
                names.len() - added
            );
        }
        Action::Remove { names } => {
            let mut store = store::open_write(&args.store.db)?;
            let removed = store.remove_groups(&names)?;
            println!("{removed} group(s) removed");
            if removed < names.len() {
                eprintln!("{} name(s) were not groups", names.len() - removed);
            }
        }
    }
    Ok(0)
}
