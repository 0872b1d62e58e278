// `sqlx::migrate!` embeds the migrations at compile time but cannot tell Cargo to watch
// the folder: without this, a new migration file alone would not rebuild the binary.
fn main() {
    println!("cargo:rerun-if-changed=../migrations/postgres");
}
