//! Rebuilds when a migration is added, changed or removed: `sqlx::migrate!` embeds the
//! `migrations/` folders at compile time, and cargo does not watch folders on its own.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
