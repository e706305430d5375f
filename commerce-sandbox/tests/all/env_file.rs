//! `commerce-sandbox --env-file PATH`: a real process writes a file a shell sources, and
//! what it sets points at the sandbox that process serves.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_env_file_is_sourced_by_a_shell_and_points_at_the_running_sandbox() {
    let dir = std::env::temp_dir().join(format!("sandbox-env-file-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sandbox.env");
    let _child = Child(
        Command::new(env!("CARGO_BIN_EXE_commerce-sandbox"))
            .args(["--port", "0", "--env-file"])
            .arg(&path)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // The file appears whole once the sandbox listens (written aside, then renamed).
    let started = Instant::now();
    while !path.exists() {
        assert!(started.elapsed() < Duration::from_secs(60), "no env file");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -eu; source '{}'; echo \"$RETAILER_API_URL\"; echo \"$SHOPWEDO_SHOP_KEY\"; echo \"$SITEJABBER_EMAIL\"",
            path.display()
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].starts_with("http://127.0.0.1:") && lines[0].ends_with("/bol"),
        "{lines:?}"
    );
    assert_eq!(lines[1], commerce_sandbox::SHOPWEDO_SHOP_KEY);
    assert_eq!(lines[2], commerce_sandbox::SITEJABBER_EMAIL);
    // The sandbox the file names is the one running.
    let report = lines[0].trim_end_matches("/bol").to_owned() + "/__sandbox/report";
    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = rt.block_on(async { reqwest::get(&report).await.map(|r| r.status().as_u16()) });
    assert_eq!(status.unwrap(), 200);
    let _ = std::fs::remove_dir_all(&dir);
}
