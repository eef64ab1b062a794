fn main() -> std::process::ExitCode {
    infrasage_readiness::cli::main()
}
