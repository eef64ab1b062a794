// Stamps the git revision into the binary for infrasage_readiness_build_info.
fn main() {
    println!("cargo:rerun-if-env-changed=INFRASAGE_REVISION");
    for p in [".git/HEAD", ".git/refs/heads"] {
        if std::path::Path::new(p).exists() {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    let rev = std::env::var("INFRASAGE_REVISION").ok().filter(|r| !r.is_empty()).or_else(|| {
        std::process::Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    });
    println!("cargo:rustc-env=GIT_REVISION={}", rev.unwrap_or_else(|| "unknown".to_string()));
}
