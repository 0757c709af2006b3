//! The `local` provider as a normal user. CI runs as root (where the server runs as `postgres`
//! or `nobody`, tested in sandbox_local.rs); here the test re-executes itself as `nobody`, so
//! the non-root path — running the binaries directly — is exercised too.

use crate::support;

use std::process::Command;

use cargo_migrate::sandbox::local::{LocalOptions, LocalPostgres};
use sqlx::Connection;

const CHILD: &str = "CM_LOCAL_AS_USER_CHILD";

#[test]
fn local_provider_runs_as_a_normal_user() {
    if !support::have_local_postgres() {
        return;
    }
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if std::env::var(CHILD).is_ok() || !root {
        serve_and_stop();
        return;
    }
    let home = tempfile::tempdir().expect("home");
    std::fs::set_permissions(
        home.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod");
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "sandbox_local_user::local_provider_runs_as_a_normal_user",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .env("HOME", home.path())
        .env("TMPDIR", home.path())
        .output()
        .expect("run the test as nobody");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "as nobody:\n{stdout}\n{stderr}");
    assert!(
        stderr.contains("served as uid 65534") || stdout.contains("served as uid 65534"),
        "{stdout}\n{stderr}"
    );
}

fn serve_and_stop() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut pg = runtime
        .block_on(LocalPostgres::start(LocalOptions::default()))
        .expect("start as a normal user");
    let data_dir = pg.data_dir().to_path_buf();
    runtime.block_on(async {
        let mut conn = sqlx::PgConnection::connect(&pg.url())
            .await
            .expect("connect");
        sqlx::raw_sql("CREATE TABLE t (id int); INSERT INTO t VALUES (1);")
            .execute(&mut conn)
            .await
            .expect("DDL");
        conn.close().await.expect("close");
    });
    // SAFETY: geteuid has no preconditions.
    eprintln!("served as uid {}", unsafe { libc::geteuid() });
    pg.stop().expect("stop");
    assert!(!data_dir.exists(), "the cluster is removed");
}
