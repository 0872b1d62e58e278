//! The `madoguchi` command itself: staff tokens and config checking, on a throw-away
//! SQLite ledger (the embedded mode needs nothing installed).
#![allow(clippy::expect_used, clippy::unwrap_used, reason = "test code")]

use std::process::Command;

fn madoguchi(db: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_madoguchi"))
        .args(args)
        .env("MADOGUCHI_SQLITE_PATH", db)
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .output()
        .expect("run madoguchi")
}

#[test]
fn staff_tokens_are_created_listed_and_revoked() {
    let dir = std::env::temp_dir().join(format!("mdg-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("cli.db");
    let created = madoguchi(
        &db,
        &[
            "staff-token",
            "create",
            "--office",
            "main",
            "--role",
            "admin",
            "--label",
            "supervisor",
        ],
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let token = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("mdg_") && token.len() > 40, "{token}");
    let listed = String::from_utf8(madoguchi(&db, &["staff-token", "list"]).stdout).unwrap();
    let line = listed.lines().next().unwrap();
    assert!(line.contains("main\tadmin\tactive\tsupervisor"), "{line}");
    assert!(
        !listed.contains(&token),
        "the token itself is never shown again"
    );
    let id = line.split('\t').next().unwrap();
    assert!(
        madoguchi(&db, &["staff-token", "revoke", id])
            .status
            .success()
    );
    assert!(
        String::from_utf8(madoguchi(&db, &["staff-token", "list"]).stdout)
            .unwrap()
            .contains("revoked")
    );
    assert!(
        !madoguchi(&db, &["staff-token", "revoke", id])
            .status
            .success(),
        "revoking twice fails"
    );
    let unknown = madoguchi(&db, &["staff-token", "create", "--office", "nowhere"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no office nowhere"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn check_config_names_the_broken_field() {
    let dir = std::env::temp_dir().join(format!("mdg-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ok = madoguchi(&dir.join("x.db"), &["check-config"]);
    assert!(
        String::from_utf8(ok.stdout)
            .unwrap()
            .contains("line b (B-…)")
    );
    let file = dir.join("city.toml");
    std::fs::write(&file, "[municipality]\nname = { ja = \"市\", en = \"City\" }\n[[offices]]\nid = \"Main\"\nname = { ja = \"本庁\", en = \"Main\" }\naddress = { ja = \"a\", en = \"a\" }\ncounters = 0\n[offices.procedures]\ncert_renewal = { capacity = 1 }\n").unwrap();
    let bad = madoguchi(&dir.join("x.db"), &["check-config", file.to_str().unwrap()]);
    assert!(!bad.status.success());
    let message = String::from_utf8_lossy(&bad.stderr);
    assert!(
        message.contains("offices[0].id") && message.contains("offices[0].counters"),
        "{message}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
