//! `sqlx::migrate!` embeds the migrations at compile time, but cargo does not
//! watch that folder by itself (sqlx#681): without this, an edited or new
//! migration would be silently left out of the binary.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
